// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./GTradeTypes.sol";
import "./GTradeMargin.sol";

/// @title Simulated gTrade v10 diamond (GNSMultiCollatDiamond) for perpwatch's devnet.
/// @notice The reads perpwatch makes, with the diamond's real selectors, structs and array
///         semantics (trades stored per (trader, index), `getTrades` returning the open ones in
///         index order, `...ForTraders` batch forms with an inclusive end index and a
///         fixed-length answer, collateral index 1-based), and the trade paths that emit the
///         real events. A keeper liquidates with gTrade's rule on LOOKBACK prices: the lowest
///         (long) or highest (short) round of the pair's feed since a given round.
/// @dev Devnet fixture, simplified where perpwatch does not look: no tokens move, trades fill
///      at the feed's latest answer with no price impact, holding fees accrue per block at a
///      pair's fixed borrowing rate plus a signed funding rate scaled by price / open price,
///      pending orders are stored as trades with tradeType 1 or 2 and never trigger. Setters
///      are open to any caller.
contract GTradeDiamond is GTradeEvents, GTradeMargin {
    uint8 internal constant LIQ_CLOSE = 6;
    uint8 internal constant V10 = 2;

    struct Pair {
        address feed;
        uint8 feedDecimals;
        bool listed;
        uint256 spreadP;
        uint256 totalPositionSizeFeeP;
        uint256 minPositionSizeUsd; // 1e18
        uint256 borrowingRatePerBlockP; // percent * 1e10 of position size per block
        int256 fundingRatePerBlockP; // longs pay when > 0, shorts receive
        GTradeLiqParams liq;
    }

    error UnknownPair(uint16 pairIndex);
    error UnknownCollateral(uint8 collateralIndex);
    error NoTrade(address trader, uint32 index);
    error BadInput(string reason);
    error NotLiquidatable(address trader, uint32 index, uint256 liqPrice, uint256 lookbackPrice);

    GTradeCollateral[] internal _collaterals;
    mapping(uint8 => uint256) internal _collateralPriceUsd;
    mapping(uint256 => Pair) internal _pairs;
    mapping(address => GTradeCounter) internal _counters;
    mapping(address => mapping(uint32 => GTradeTrade)) internal _trades;
    mapping(address => mapping(uint32 => GTradeTradeInfo)) internal _infos;
    mapping(address => mapping(uint32 => GTradeLiqParams)) internal _liqParams;
    mapping(address => mapping(uint32 => GTradeFeesData)) internal _fees;
    mapping(address => mapping(uint32 => uint256)) internal _oldBorrowing;

    // ------------------------------------------------------------------ sim-only setters

    /// @notice List a collateral token (index = count after listing, 1-based) with
    ///         `precision` = 10^decimals and a USD price (1e8).
    function addCollateral(address token, uint128 precision, uint256 priceUsd) external returns (uint8) {
        if (precision == 0 || priceUsd == 0) revert BadInput("collateral");
        _collaterals.push(GTradeCollateral(token, true, 0, precision, uint128(1e18 / precision)));
        uint8 index = uint8(_collaterals.length);
        _collateralPriceUsd[index] = priceUsd;
        return index;
    }

    function setCollateralPriceUsd(uint8 collateralIndex, uint256 priceUsd) external {
        _collateral(collateralIndex);
        _collateralPriceUsd[collateralIndex] = priceUsd;
    }

    /// @notice List (or re-list) a pair priced by `feed` (answers with `feedDecimals`).
    function listPair(
        uint16 pairIndex,
        address feed,
        uint8 feedDecimals,
        uint256 spreadP,
        uint256 totalPositionSizeFeeP,
        uint256 minPositionSizeUsd,
        GTradeLiqParams calldata liq
    ) external {
        if (feed == address(0) || feedDecimals > 10) revert BadInput("feed");
        Pair storage p = _pairs[pairIndex];
        (p.feed, p.feedDecimals, p.listed) = (feed, feedDecimals, true);
        (p.spreadP, p.totalPositionSizeFeeP, p.minPositionSizeUsd) =
            (spreadP, totalPositionSizeFeeP, minPositionSizeUsd);
        p.liq = liq;
    }

    /// @notice Holding-fee rates of a pair (percent * 1e10 of the position size per block).
    function setHoldingRates(uint16 pairIndex, uint256 borrowingPerBlockP, int256 fundingPerBlockP)
        external
    {
        Pair storage p = _pair(pairIndex);
        (p.borrowingRatePerBlockP, p.fundingRatePerBlockP) = (borrowingPerBlockP, fundingPerBlockP);
    }

    /// @notice Open a trade (tradeType 0) at the feed's latest price, or store a pending
    ///         limit (1) / stop (2) order as a trade, as the diamond does. Returns its index.
    function openTrade(
        address trader,
        uint16 pairIndex,
        uint8 collateralIndex,
        uint120 collateralAmount,
        uint24 leverage,
        bool long,
        uint8 tradeType
    ) external returns (uint32 index) {
        if (collateralAmount == 0 || leverage < LEV || tradeType > 2) revert BadInput("trade");
        GTradeTrade memory t;
        (t.user, t.pairIndex, t.leverage, t.long, t.isOpen) = (trader, pairIndex, leverage, long, true);
        (t.collateralIndex, t.tradeType, t.collateralAmount) = (collateralIndex, tradeType, collateralAmount);
        index = _store(t);
        if (tradeType == 0) _emitMarket(trader, index, true, t.openPrice);
    }

    function _store(GTradeTrade memory t) internal returns (uint32 index) {
        GTradeCollateral memory c = _collateral(t.collateralIndex);
        Pair storage p = _pair(t.pairIndex);
        t.openPrice = uint64(_price(p, _latestRound(p)));
        GTradeCounter storage counter = _counters[t.user];
        index = counter.currentIndex;
        t.index = index;
        counter.currentIndex += 1;
        counter.openCount += 1;
        t.positionSizeToken = uint160(
            (uint256(t.collateralAmount) * t.leverage * 1e10 * c.precisionDelta) / LEV / t.openPrice
        );
        _trades[t.user][index] = t;
        GTradeTradeInfo memory info;
        uint32 blockNo = uint32(block.number);
        (info.createdBlock, info.tpLastUpdatedBlock, info.slLastUpdatedBlock) = (blockNo, blockNo, blockNo);
        (info.maxSlippageP, info.lastOiUpdateTs) = (1000, uint48(block.timestamp));
        info.collateralPriceUsd = uint48(_collateralPriceUsd[t.collateralIndex]);
        (info.contractsVersion, info.lastPosIncreaseBlock) = (V10, blockNo);
        _infos[t.user][index] = info;
        _liqParams[t.user][index] = p.liq;
        emit TradeStored(t.user, index, t, info, p.liq);
    }

    /// @notice Close a trade at the feed's latest price (market close).
    function closeTrade(address trader, uint32 index) external {
        GTradeTrade storage t = _open(trader, index);
        uint256 price = _price(_pairs[t.pairIndex], _latestRound(_pairs[t.pairIndex]));
        _emitMarket(trader, index, false, price);
        _close(trader, index, t.long ? price >= t.openPrice : price <= t.openPrice);
    }

    /// @notice Set the collateral of a trade (deposit or withdrawal of margin).
    function updateCollateral(address trader, uint32 index, uint120 collateralAmount) external {
        GTradeTrade storage t = _open(trader, index);
        if (collateralAmount == 0) revert BadInput("collateral");
        t.collateralAmount = collateralAmount;
        emit TradeCollateralUpdated(trader, index, collateralAmount);
    }

    /// @notice Change the leverage (and so the position size) of a trade, as a leverage
    ///         update does (pendingOrderType 0 here).
    function updateLeverage(address trader, uint32 index, uint24 leverage) external {
        GTradeTrade storage t = _open(trader, index);
        if (leverage < LEV) revert BadInput("leverage");
        t.leverage = leverage;
        emit TradePositionUpdated(
            trader, index, t.collateralAmount, leverage, t.openPrice, t.sl, t.positionSizeToken, 0, true
        );
    }

    /// @notice Book realised trading fees and pnl (partial closes) and a legacy (v1) borrowing
    ///         fee on a trade, in collateral units.
    function setRealized(
        address trader,
        uint32 index,
        uint128 realizedTradingFees,
        int128 realizedPnl,
        uint256 oldBorrowingFee
    ) external {
        _open(trader, index);
        GTradeFeesData storage f = _fees[trader][index];
        (f.realizedTradingFeesCollateral, f.realizedPnlCollateral) = (realizedTradingFees, realizedPnl);
        _oldBorrowing[trader][index] = oldBorrowingFee;
    }

    // ------------------------------------------------------------------ diamond reads

    function getCollaterals() external view returns (GTradeCollateral[] memory) {
        return _collaterals;
    }

    function getCollateral(uint8 index) external view returns (GTradeCollateral memory) {
        return _collateral(index);
    }

    function getCollateralPriceUsd(uint8 index) external view returns (uint256) {
        _collateral(index);
        return _collateralPriceUsd[index];
    }

    /// @notice Counter type 0 = trades (1 = pending orders: none in the simulator).
    function getCounters(address trader, uint8 counterType) public view returns (GTradeCounter memory c) {
        if (counterType == 0) c = _counters[trader];
    }

    function getCountersForTraders(address[] calldata traders, uint8 counterType)
        external
        view
        returns (GTradeCounter[] memory out)
    {
        out = new GTradeCounter[](traders.length);
        for (uint256 i; i < traders.length; ++i) out[i] = getCounters(traders[i], counterType);
    }

    function getTrade(address trader, uint32 index) external view returns (GTradeTrade memory) {
        return _trades[trader][index];
    }

    function getTradeInfo(address trader, uint32 index) external view returns (GTradeTradeInfo memory) {
        return _infos[trader][index];
    }

    function getTradeLiquidationParams(address trader, uint32 index)
        external
        view
        returns (GTradeLiqParams memory)
    {
        return _liqParams[trader][index];
    }

    function getTrades(address trader) public view returns (GTradeTrade[] memory out) {
        uint32[] memory ids = _openIndices(trader);
        out = new GTradeTrade[](ids.length);
        for (uint256 i; i < ids.length; ++i) out[i] = _trades[trader][ids[i]];
    }

    function getTradeInfos(address trader) public view returns (GTradeTradeInfo[] memory out) {
        uint32[] memory ids = _openIndices(trader);
        out = new GTradeTradeInfo[](ids.length);
        for (uint256 i; i < ids.length; ++i) out[i] = _infos[trader][ids[i]];
    }

    function getTradesLiquidationParams(address trader) public view returns (GTradeLiqParams[] memory out) {
        uint32[] memory ids = _openIndices(trader);
        out = new GTradeLiqParams[](ids.length);
        for (uint256 i; i < ids.length; ++i) out[i] = _liqParams[trader][ids[i]];
    }

    /// @notice Open trades of `traders`, flattened in order, global positions offset..limit
    ///         (inclusive); the answer has limit - offset + 1 slots, empty ones zero.
    function getAllTradesForTraders(address[] calldata traders, uint256 offset, uint256 limit)
        external
        view
        returns (GTradeTrade[] memory out)
    {
        out = new GTradeTrade[](limit - offset + 1);
        (address[] memory who, uint32[] memory ids) = _flatten(traders, offset, limit);
        for (uint256 i; i < who.length; ++i) out[i] = _trades[who[i]][ids[i]];
    }

    function getAllTradeInfosForTraders(address[] calldata traders, uint256 offset, uint256 limit)
        external
        view
        returns (GTradeTradeInfo[] memory out)
    {
        out = new GTradeTradeInfo[](limit - offset + 1);
        (address[] memory who, uint32[] memory ids) = _flatten(traders, offset, limit);
        for (uint256 i; i < who.length; ++i) out[i] = _infos[who[i]][ids[i]];
    }

    function getAllTradesLiquidationParamsForTraders(
        address[] calldata traders,
        uint256 offset,
        uint256 limit
    ) external view returns (GTradeLiqParams[] memory out) {
        out = new GTradeLiqParams[](limit - offset + 1);
        (address[] memory who, uint32[] memory ids) = _flatten(traders, offset, limit);
        for (uint256 i; i < who.length; ++i) out[i] = _liqParams[who[i]][ids[i]];
    }

    function getTradeFeesData(address trader, uint32 index) external view returns (GTradeFeesData memory) {
        return _fees[trader][index];
    }

    function getTradeFeesDataArray(address[] calldata traders, uint32[] calldata indices)
        external
        view
        returns (GTradeFeesData[] memory out)
    {
        if (traders.length != indices.length) revert BadInput("lengths");
        out = new GTradeFeesData[](traders.length);
        for (uint256 i; i < traders.length; ++i) out[i] = _fees[traders[i]][indices[i]];
    }

    /// @notice Holding fees owed now if the pair traded at `currentPairPrice` (1e10).
    function getTradePendingHoldingFeesCollateral(address trader, uint32 index, uint64 currentPairPrice)
        public
        view
        returns (GTradeHoldingFees memory h)
    {
        GTradeTrade memory t = _trades[trader][index];
        if (!t.isOpen || t.tradeType != 0) return h;
        Pair storage p = _pairs[t.pairIndex];
        uint256 blocks = block.number - _infos[trader][index].lastPosIncreaseBlock;
        uint256 size = (uint256(t.collateralAmount) * t.leverage) / LEV;
        h.borrowingFeeCollateral = (size * p.borrowingRatePerBlockP * blocks) / P_100;
        int256 funding = (int256(size) * p.fundingRatePerBlockP * int256(blocks)
            * int256(uint256(currentPairPrice))) / int256(uint256(t.openPrice)) / int256(P_100);
        h.fundingFeeCollateral = t.long ? funding : -funding;
        h.borrowingFeeCollateral_old = _oldBorrowing[trader][index];
        h.totalFeeCollateral = h.fundingFeeCollateral + int256(h.borrowingFeeCollateral)
            + int256(h.borrowingFeeCollateral_old);
    }

    function pairSpreadP(address, uint256 pairIndex) external view returns (uint256) {
        return _pairs[pairIndex].spreadP;
    }

    function pairSpreadPArray(address[] calldata traders, uint256[] calldata pairIndices)
        external
        view
        returns (uint256[] memory out)
    {
        if (traders.length != pairIndices.length) revert BadInput("lengths");
        out = new uint256[](pairIndices.length);
        for (uint256 i; i < pairIndices.length; ++i) out[i] = _pairs[pairIndices[i]].spreadP;
    }

    function pairTotalPositionSizeFeeP(uint256 pairIndex) external view returns (uint256) {
        return _pairs[pairIndex].totalPositionSizeFeeP;
    }

    function getEffectiveTotalPositionSizeFeeP(uint16 pairIndex, bool) external view returns (uint256) {
        return _pairs[pairIndex].totalPositionSizeFeeP;
    }

    /// @notice 1e3 = 1x: the simulator opens no counter trades.
    function getPairCounterTradeFeeRateMultiplier(uint16) external pure returns (uint16) {
        return 1000;
    }

    function pairMinPositionSizeUsd(uint256 pairIndex) external view returns (uint256) {
        return _pairs[pairIndex].minPositionSizeUsd;
    }

    function getPairLiquidationParams(uint256 pairIndex) external view returns (GTradeLiqParams memory) {
        return _pairs[pairIndex].liq;
    }

    // ------------------------------------------------------------------ liquidation

    /// @notice The trade's liquidation price (1e10) with holding fees at the latest price.
    function liquidationPrice(address trader, uint32 index) public view returns (uint256) {
        GTradeTrade memory t = _open(trader, index);
        GTradeLiqParams memory liq = _liqParams[trader][index];
        uint256 spread;
        if (_infos[trader][index].contractsVersion >= 1 && liq.maxLiqSpreadP > 0) {
            uint256 half = _pairs[t.pairIndex].spreadP / 2;
            spread = half < liq.maxLiqSpreadP ? half : liq.maxLiqSpreadP;
        }
        uint256 threshold = liqThresholdP(liq, t.leverage);
        int256 fees = _feesCollateral(t);
        return liqPriceOf(t.long, t.openPrice, t.collateralAmount, t.leverage, fees, threshold, spread);
    }

    /// @notice closing fee + holding fees (at the latest price) - (realised pnl - realised
    ///         trading fees), in collateral units.
    function _feesCollateral(GTradeTrade memory t) internal view returns (int256) {
        Pair storage p = _pairs[t.pairIndex];
        uint256 closing = closingFeeCollateral(
            p.totalPositionSizeFeeP, t.collateralAmount, t.leverage, p.minPositionSizeUsd,
            _collateralPriceUsd[t.collateralIndex], _collaterals[t.collateralIndex - 1].precision
        );
        uint64 current = uint64(_price(p, _latestRound(p)));
        int256 holding = getTradePendingHoldingFeesCollateral(t.user, t.index, current).totalFeeCollateral;
        GTradeFeesData memory f = _fees[t.user][t.index];
        return int256(closing) + holding
            - (int256(f.realizedPnlCollateral) - int256(uint256(f.realizedTradingFeesCollateral)));
    }

    /// @notice Lowest and highest price (1e10) of the pair's feed rounds fromRound..latest.
    function lookbackPrices(uint16 pairIndex, uint80 fromRound) public view returns (uint256 low, uint256 high) {
        Pair storage p = _pair(pairIndex);
        uint80 last = _latestRound(p);
        if (fromRound == 0 || fromRound > last) fromRound = last;
        low = type(uint256).max;
        for (uint80 r = fromRound; r <= last; ++r) {
            uint256 price = _price(p, r);
            if (price < low) low = price;
            if (price > high) high = price;
        }
    }

    /// @notice gTrade's LIQ_CLOSE condition on lookback prices since `fromRound`: a long is
    ///         liquidated when the low touched its liquidation price, a short when the high did.
    function isLiquidatable(address trader, uint32 index, uint80 fromRound) public view returns (bool) {
        GTradeTrade memory t = _trades[trader][index];
        if (!t.isOpen || t.tradeType != 0) return false;
        (uint256 low, uint256 high) = lookbackPrices(t.pairIndex, fromRound);
        uint256 liqPrice = liquidationPrice(trader, index);
        return t.long ? low <= liqPrice : high >= liqPrice;
    }

    /// @notice The keeper's trigger: liquidate if the lookback since `fromRound` allows it.
    function liquidate(address trader, uint32 index, uint80 fromRound) external {
        GTradeTrade memory t = _open(trader, index);
        (uint256 low, uint256 high) = lookbackPrices(t.pairIndex, fromRound);
        uint256 liqPrice = liquidationPrice(trader, index);
        uint256 touched = t.long ? low : high;
        if (t.long ? touched > liqPrice : touched < liqPrice) {
            revert NotLiquidatable(trader, index, liqPrice, touched);
        }
        _emitLiquidation(t, liqPrice);
        _close(trader, index, false);
    }

    // ------------------------------------------------------------------ internals

    function _collateral(uint8 index) internal view returns (GTradeCollateral memory) {
        if (index == 0 || index > _collaterals.length) revert UnknownCollateral(index);
        return _collaterals[index - 1];
    }

    function _pair(uint16 pairIndex) internal view returns (Pair storage p) {
        p = _pairs[pairIndex];
        if (!p.listed) revert UnknownPair(pairIndex);
    }

    function _open(address trader, uint32 index) internal view returns (GTradeTrade storage t) {
        t = _trades[trader][index];
        if (!t.isOpen) revert NoTrade(trader, index);
    }

    function _latestRound(Pair storage p) internal view returns (uint80) {
        return IGTradePriceFeed(p.feed).latestRound();
    }

    function _price(Pair storage p, uint80 round) internal view returns (uint256) {
        (, int256 answer,,,) = IGTradePriceFeed(p.feed).getRoundData(round);
        if (answer <= 0) revert BadInput("feed answer");
        return uint256(answer) * 10 ** (10 - p.feedDecimals);
    }

    function _openIndices(address trader) internal view returns (uint32[] memory ids) {
        GTradeCounter memory c = _counters[trader];
        ids = new uint32[](c.openCount);
        uint32 found;
        for (uint32 i; i < c.currentIndex && found < c.openCount; ++i) {
            if (_trades[trader][i].isOpen) ids[found++] = i;
        }
    }

    function _flatten(address[] calldata traders, uint256 offset, uint256 limit)
        internal
        view
        returns (address[] memory who, uint32[] memory ids)
    {
        who = new address[](limit - offset + 1);
        ids = new uint32[](limit - offset + 1);
        uint256 position;
        uint256 n;
        for (uint256 i; i < traders.length && position <= limit; ++i) {
            uint32 open = _counters[traders[i]].openCount;
            if (open == 0) continue;
            if (position + open <= offset) {
                position += open;
                continue;
            }
            uint32[] memory mine = _openIndices(traders[i]);
            for (uint256 j; j < mine.length && position <= limit; ++j) {
                if (position >= offset) (who[n], ids[n++]) = (traders[i], mine[j]);
                position++;
            }
        }
        assembly {
            mstore(who, n)
            mstore(ids, n)
        }
    }

    function _close(address trader, uint32 index, bool isPnlPositive) internal {
        _trades[trader][index].isOpen = false;
        _counters[trader].openCount -= 1;
        emit TradeClosed(trader, index, isPnlPositive);
    }

    /// @dev The events' data words are all static, so one static struct abi-encodes exactly
    ///      as their non-indexed parameters do; emitted with log3/log4 (fewer stack slots).
    struct MarketData {
        GTradeId orderId;
        GTradeTrade t;
        bool open;
        uint256 oraclePrice;
        uint256 marketPrice;
        uint256 liqPrice;
        GTradePriceImpact priceImpact;
        int256 percentProfit;
        uint256 amountSentToTrader;
        uint256 collateralPriceUsd;
    }

    struct LimitData {
        GTradeId orderId;
        GTradeTrade t;
        address triggerCaller;
        uint8 orderType;
        uint256 oraclePrice;
        uint256 marketPrice;
        uint256 liqPrice;
        GTradePriceImpact priceImpact;
        int256 percentProfit;
        uint256 amountSentToTrader;
        uint256 collateralPriceUsd;
        bool exactExecution;
    }

    function _emitMarket(address trader, uint32 index, bool open, uint256 price) internal {
        MarketData memory d;
        d.t = _trades[trader][index];
        d.orderId = GTradeId(trader, index);
        (d.open, d.oraclePrice, d.marketPrice) = (open, price, price);
        d.liqPrice = d.t.tradeType == 0 ? liquidationPrice(trader, index) : 0;
        d.priceImpact.priceAfterImpact = uint64(price);
        d.collateralPriceUsd = _collateralPriceUsd[d.t.collateralIndex];
        bytes memory data = abi.encode(d);
        bytes32 topic0 = MarketExecuted.selector;
        uint256 user = uint256(uint160(trader));
        uint256 idx = index;
        assembly {
            log3(add(data, 32), mload(data), topic0, user, idx)
        }
    }

    function _emitLiquidation(GTradeTrade memory t, uint256 liqPrice) internal {
        LimitData memory d;
        (d.orderId, d.t, d.triggerCaller, d.orderType) = (GTradeId(t.user, t.index), t, msg.sender, LIQ_CLOSE);
        (d.oraclePrice, d.marketPrice, d.liqPrice) = (liqPrice, liqPrice, liqPrice);
        d.priceImpact.priceAfterImpact = uint64(liqPrice);
        (d.percentProfit, d.collateralPriceUsd, d.exactExecution) =
            (-100e10, _collateralPriceUsd[t.collateralIndex], true);
        bytes memory data = abi.encode(d);
        bytes32 topic0 = LimitExecuted.selector;
        uint256 user = uint256(uint160(t.user));
        uint256 idx = t.index;
        assembly {
            log4(add(data, 32), mload(data), topic0, user, idx, 0)
        }
    }
}
