// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./GmxV2DataStore.sol";
import "./GmxV2EventEmitter.sol";
import "./GmxV2Keys.sol";
import "./GmxV2MarginTerms.sol";
import "./GmxV2PositionEvents.sol";
import "./GmxV2PositionMath.sol";
import "./GmxV2Reader.sol";
import "./GmxV2Store.sol";
import "./GmxV2Types.sol";

interface IGmxV2PriceFeed {
    function decimals() external view returns (uint8);

    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80);
}

/// @title Devnet-only keeper for GMX v2 positions: market orders execute at once at the
///        Chainlink feed price, and `liquidatePosition` succeeds only when GMX's rule says so.
/// @notice This API is the devnet's own (GMX's is orders + keepers + oracle params); state lives
///         in the DataStore under the real keys and events go through the EventEmitter, so
///         readers see exactly what they would on chain. No tokens move: collateral is booked.
///         Prices: min = max = feed answer scaled to USD per smallest unit times 1e30.
///         Every modification first pays, from collateral, the position fee on the size change
///         plus pending borrowing and funding, and resets the position's fee snapshots.
contract GmxV2Exchange {
    uint256 internal constant MARKET_INCREASE = 2;
    uint256 internal constant MARKET_DECREASE = 4;
    uint256 internal constant LIQUIDATION = 7;

    struct PriceFeed {
        address feed;
        uint8 tokenDecimals;
    }

    error Unauthorized(address caller);
    error UnknownMarket(address market);
    error NoPriceFeed(address token);
    error InvalidFeedAnswer(address token, int256 answer);
    error EmptyPosition(bytes32 positionKey);
    error InsufficientCollateral(uint256 available, uint256 required);
    error LiquidatablePosition(string reason);
    error PositionShouldNotBeLiquidated(
        string reason, int256 remainingCollateralUsd, int256 minCollateralUsd, int256 minCollateralUsdForLeverage
    );

    GmxV2DataStore public immutable dataStore;
    GmxV2EventEmitter public immutable eventEmitter;
    address public immutable owner;
    /// @dev The liquidation check runs in the Reader (one copy of GMX's rule, and it keeps this
    ///      contract under the 24 KiB code size limit).
    GmxV2Reader public immutable reader;
    mapping(address => PriceFeed) public priceFeeds;

    constructor(GmxV2DataStore dataStore_, GmxV2EventEmitter eventEmitter_, GmxV2Reader reader_) {
        dataStore = dataStore_;
        reader = reader_;
        eventEmitter = eventEmitter_;
        owner = msg.sender;
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert Unauthorized(msg.sender);
        _;
    }

    function setPriceFeed(address token, address feed, uint8 tokenDecimals) external onlyOwner {
        priceFeeds[token] = PriceFeed(feed, tokenDecimals);
    }

    /// @notice Devnet stand-in for the impact an increase stores (v2.2 pendingImpactAmount,
    ///         index-token units, > 0 a credit): set it directly.
    function setPendingImpactAmount(bytes32 key, int256 amount) external onlyOwner {
        GmxV2Position.Props memory p = _existing(key);
        p.numbers.pendingImpactAmount = amount;
        GmxV2Store.setPosition(dataStore, key, p);
    }

    function createMarket(address marketToken, address indexToken, address longToken, address shortToken)
        external
        onlyOwner
    {
        GmxV2Store.setMarket(dataStore, GmxV2Market.Props(marketToken, indexToken, longToken, shortToken));
    }

    /// @notice Feed answer × 10^(30 − tokenDecimals − feedDecimals): USD per smallest unit ×1e30.
    function tokenPrice(address token) public view returns (GmxV2Price.Props memory) {
        PriceFeed memory f = priceFeeds[token];
        if (f.feed == address(0)) revert NoPriceFeed(token);
        (, int256 answer,,,) = IGmxV2PriceFeed(f.feed).latestRoundData();
        if (answer <= 0) revert InvalidFeedAnswer(token, answer);
        uint256 price = uint256(answer) * 10 ** (30 - f.tokenDecimals - IGmxV2PriceFeed(f.feed).decimals());
        return GmxV2Price.Props(price, price);
    }

    function marketPrices(address market) public view returns (GmxV2Price.MarketPrices memory prices) {
        GmxV2Market.Props memory m = _market(market);
        prices.indexTokenPrice = tokenPrice(m.indexToken);
        prices.longTokenPrice = tokenPrice(m.longToken);
        prices.shortTokenPrice = tokenPrice(m.shortToken);
    }

    function increasePosition(
        address account,
        address market,
        address collateralToken,
        bool isLong,
        uint256 collateralDeltaAmount,
        uint256 sizeDeltaUsd
    ) external returns (bytes32 key) {
        key = GmxV2Position.key(account, market, collateralToken, isLong);
        GmxV2Position.Props memory p = GmxV2Store.getPosition(dataStore, key);
        if (p.numbers.sizeInUsd == 0) {
            p.addresses = GmxV2Position.Addresses(account, market, collateralToken);
            p.flags.isLong = isLong;
        }
        GmxV2Market.Props memory m = _market(market);
        GmxV2Price.MarketPrices memory prices = marketPrices(market);
        _updateBorrowingState(m, prices);
        p.numbers.collateralAmount += collateralDeltaAmount;
        _payFees(p, m, prices, sizeDeltaUsd);
        // Longs buy at the max price, shorts sell at the min, rounding size against the trader.
        uint256 price = isLong ? prices.indexTokenPrice.max : prices.indexTokenPrice.min;
        uint256 tokens = isLong ? sizeDeltaUsd / price : GmxV2PositionMath.ceilDiv(sizeDeltaUsd, price);
        p.numbers.sizeInUsd += sizeDeltaUsd;
        p.numbers.sizeInTokens += tokens;
        p.numbers.increasedAtTime = block.timestamp;
        if (p.numbers.sizeInUsd == 0) revert EmptyPosition(key);
        _addOpenInterest(p, int256(sizeDeltaUsd), int256(tokens));
        _validate(p, m, prices);
        GmxV2Store.setPosition(dataStore, key, p);
        GmxV2PositionEvents.emitIncrease(
            eventEmitter,
            p,
            GmxV2PositionEvents.Change(
                key, MARKET_INCREASE, price, sizeDeltaUsd, tokens, int256(collateralDeltaAmount), 0
            )
        );
    }

    /// @notice Decrease by `sizeDeltaUsd` (capped at the size; the whole size closes) and
    ///         withdraw `collateralDeltaAmount`. Realised profit is paid out; a loss comes out
    ///         of collateral.
    function decreasePosition(
        address account,
        address market,
        address collateralToken,
        bool isLong,
        uint256 sizeDeltaUsd,
        uint256 collateralDeltaAmount
    ) external returns (bytes32 key) {
        key = GmxV2Position.key(account, market, collateralToken, isLong);
        GmxV2Position.Props memory p = _existing(key);
        GmxV2Market.Props memory m = _market(market);
        GmxV2Price.MarketPrices memory prices = marketPrices(market);
        if (sizeDeltaUsd > p.numbers.sizeInUsd) sizeDeltaUsd = p.numbers.sizeInUsd;
        _updateBorrowingState(m, prices);
        _payFees(p, m, prices, sizeDeltaUsd);
        GmxV2PositionEvents.Change memory c = _realise(p, m, prices, sizeDeltaUsd);
        _addOpenInterest(p, -int256(c.sizeDeltaUsd), -int256(c.sizeDeltaInTokens));
        c.positionKey = key;
        c.orderType = MARKET_DECREASE;
        c.collateralDeltaAmount = -int256(collateralDeltaAmount);
        _takeCollateral(p, collateralDeltaAmount);
        p.numbers.decreasedAtTime = block.timestamp;
        if (p.numbers.sizeInUsd == 0) {
            p.numbers.collateralAmount = 0;
            GmxV2Store.removePosition(dataStore, key, account);
        } else {
            _validate(p, m, prices);
            GmxV2Store.setPosition(dataStore, key, p);
        }
        GmxV2PositionEvents.emitDecrease(eventEmitter, p, c);
    }

    /// @notice Close the whole position if GMX's rule (both flags true) calls it liquidatable,
    ///         else revert `PositionShouldNotBeLiquidated`. Emits PositionDecrease, orderType 7.
    function liquidatePosition(address account, address market, address collateralToken, bool isLong)
        external
    {
        bytes32 key = GmxV2Position.key(account, market, collateralToken, isLong);
        GmxV2Position.Props memory p = _existing(key);
        GmxV2Market.Props memory m = _market(market);
        GmxV2Price.MarketPrices memory prices = marketPrices(market);
        _updateBorrowingState(m, prices);
        (bool liquidatable, string memory reason, GmxV2Liquidation.Info memory info) =
            reader.checkPosition(dataStore, p, m, prices, true, true);
        if (!liquidatable) {
            revert PositionShouldNotBeLiquidated(
                reason, info.remainingCollateralUsd, info.minCollateralUsd, info.minCollateralUsdForLeverage
            );
        }
        uint256 price = isLong ? prices.indexTokenPrice.min : prices.indexTokenPrice.max;
        GmxV2PositionEvents.Change memory c = GmxV2PositionEvents.Change(
            key,
            LIQUIDATION,
            price,
            p.numbers.sizeInUsd,
            p.numbers.sizeInTokens,
            -int256(p.numbers.collateralAmount),
            GmxV2PositionMath.pnlUsd(p, prices.indexTokenPrice)
        );
        _addOpenInterest(p, -int256(p.numbers.sizeInUsd), -int256(p.numbers.sizeInTokens));
        p.numbers.sizeInUsd = 0;
        p.numbers.sizeInTokens = 0;
        p.numbers.collateralAmount = 0;
        p.numbers.decreasedAtTime = block.timestamp;
        GmxV2Store.removePosition(dataStore, key, account);
        GmxV2PositionEvents.emitDecrease(eventEmitter, p, c);
    }

    function _market(address market) private view returns (GmxV2Market.Props memory m) {
        m = GmxV2Store.getMarket(dataStore, market);
        if (m.marketToken == address(0)) revert UnknownMarket(market);
    }

    function _existing(bytes32 key) private view returns (GmxV2Position.Props memory p) {
        p = GmxV2Store.getPosition(dataStore, key);
        if (p.numbers.sizeInUsd == 0) revert EmptyPosition(key);
    }

    function _takeCollateral(GmxV2Position.Props memory p, uint256 amount) private pure {
        if (amount > p.numbers.collateralAmount) {
            revert InsufficientCollateral(p.numbers.collateralAmount, amount);
        }
        p.numbers.collateralAmount -= amount;
    }

    /// @dev Position fee on the size change, pending borrowing and funding, out of collateral;
    ///      then the fee snapshots move to the market's current values.
    function _payFees(
        GmxV2Position.Props memory p,
        GmxV2Market.Props memory m,
        GmxV2Price.MarketPrices memory prices,
        uint256 sizeDeltaUsd
    ) private {
        uint256 collateralMin = GmxV2PositionMath.collateralPrice(m, prices, p.addresses.collateralToken).min;
        GmxV2PositionMath.Costs memory c = GmxV2PositionMath.costs(dataStore, p, m, prices);
        uint256 feeUsd = c.borrowingFeeUsd + GmxV2PositionMath.applyFactor(
            sizeDeltaUsd, dataStore.getUint(GmxV2Keys.positionFeeFactorKey(m.marketToken, false))
        );
        _takeCollateral(p, GmxV2PositionMath.ceilDiv(feeUsd, collateralMin) + c.fundingFeeAmount);
        p.numbers.borrowingFactor =
            dataStore.getUint(GmxV2Keys.cumulativeBorrowingFactorKey(m.marketToken, p.flags.isLong));
        p.numbers.fundingFeeAmountPerSize = dataStore.getUint(
            GmxV2Keys.fundingFeeAmountPerSizeKey(m.marketToken, p.addresses.collateralToken, p.flags.isLong)
        );
    }

    /// @dev `updateCumulativeBorrowingFactor` for both sides, as every GMX order does first.
    function _updateBorrowingState(GmxV2Market.Props memory m, GmxV2Price.MarketPrices memory prices) private {
        for (uint256 i = 0; i < 2; i++) {
            bool isLong = i == 0;
            uint256 next = GmxV2MarginTerms.nextCumulativeBorrowingFactor(dataStore, m, prices, isLong);
            dataStore.setUint(GmxV2Keys.cumulativeBorrowingFactorKey(m.marketToken, isLong), next);
            dataStore.setUint(
                GmxV2Keys.marketFlagKey(GmxV2Keys.CUMULATIVE_BORROWING_FACTOR_UPDATED_AT, m.marketToken, isLong),
                block.timestamp
            );
        }
    }

    function _addOpenInterest(GmxV2Position.Props memory p, int256 usd, int256 tokens) private {
        address market = p.addresses.market;
        address collateral = p.addresses.collateralToken;
        bool isLong = p.flags.isLong;
        GmxV2MarginTerms.addOpenInterest(dataStore, GmxV2Keys.openInterestKey(market, collateral, isLong, false), usd);
        GmxV2MarginTerms.addOpenInterest(dataStore, GmxV2Keys.openInterestKey(market, collateral, isLong, true), tokens);
    }

    /// @dev Shrinks the position by `sizeDeltaUsd` and settles the proportional price PnL.
    function _realise(
        GmxV2Position.Props memory p,
        GmxV2Market.Props memory m,
        GmxV2Price.MarketPrices memory prices,
        uint256 sizeDeltaUsd
    ) private pure returns (GmxV2PositionEvents.Change memory c) {
        uint256 tokens = sizeDeltaUsd == p.numbers.sizeInUsd
            ? p.numbers.sizeInTokens
            : (p.numbers.sizeInTokens * sizeDeltaUsd) / p.numbers.sizeInUsd;
        int256 pnl = GmxV2PositionMath.pnlUsd(p, prices.indexTokenPrice);
        c.basePnlUsd = p.numbers.sizeInTokens == 0 ? int256(0) : (pnl * int256(tokens)) / int256(p.numbers.sizeInTokens);
        if (c.basePnlUsd < 0) {
            uint256 collateralMin = GmxV2PositionMath.collateralPrice(m, prices, p.addresses.collateralToken).min;
            _takeCollateral(p, GmxV2PositionMath.ceilDiv(uint256(-c.basePnlUsd), collateralMin));
        }
        c.executionPrice = p.flags.isLong ? prices.indexTokenPrice.min : prices.indexTokenPrice.max;
        c.sizeDeltaUsd = sizeDeltaUsd;
        c.sizeDeltaInTokens = tokens;
        // The realised share of pending impact leaves the position (devnet: not settled in USD).
        p.numbers.pendingImpactAmount -=
            (p.numbers.pendingImpactAmount * int256(sizeDeltaUsd)) / int256(p.numbers.sizeInUsd);
        p.numbers.sizeInUsd -= sizeDeltaUsd;
        p.numbers.sizeInTokens -= tokens;
    }

    /// @dev `PositionUtils.validatePosition`: user orders must leave the position above the
    ///      (stricter) MIN_COLLATERAL_FACTOR and minCollateralUsd.
    function _validate(
        GmxV2Position.Props memory p,
        GmxV2Market.Props memory m,
        GmxV2Price.MarketPrices memory prices
    ) private view {
        (bool liquidatable, string memory reason,) =
            reader.checkPosition(dataStore, p, m, prices, true, false);
        if (liquidatable) revert LiquidatablePosition(reason);
    }
}
