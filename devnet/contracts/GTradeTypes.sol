// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title gTrade v10 (GNSMultiCollatDiamond) structs and events, for perpwatch's devnet.
/// @notice Field order and widths as in the diamond's v10 ABI (@gainsnetwork/sdk 1.8.7), so
///         return data and event topic0s are the real ones (PROTOCOLS.md §4.1, §4.3).
///         Units: prices 1e10, leverage 1e3, collateral in the token's smallest unit, every
///         `...P` percent * 1e10, collateral USD prices 1e8.

struct GTradeTrade {
    address user;
    uint32 index;
    uint16 pairIndex;
    uint24 leverage;
    bool long;
    bool isOpen;
    uint8 collateralIndex;
    uint8 tradeType; // 0 TRADE, 1 LIMIT, 2 STOP
    uint120 collateralAmount;
    uint64 openPrice;
    uint64 tp;
    uint64 sl;
    bool isCounterTrade;
    uint160 positionSizeToken;
    uint24 __placeholder;
}

struct GTradeTradeInfo {
    uint32 createdBlock;
    uint32 tpLastUpdatedBlock;
    uint32 slLastUpdatedBlock;
    uint16 maxSlippageP;
    uint48 lastOiUpdateTs;
    uint48 collateralPriceUsd;
    uint8 contractsVersion; // 0 pre-v9.2, 1 v9.2, 2 v10
    uint32 lastPosIncreaseBlock;
    uint8 __placeholder;
}

struct GTradeLiqParams {
    uint40 maxLiqSpreadP;
    uint40 startLiqThresholdP;
    uint40 endLiqThresholdP;
    uint24 startLeverage;
    uint24 endLeverage;
}

struct GTradeFeesData {
    uint128 realizedTradingFeesCollateral;
    int128 realizedPnlCollateral;
    uint128 manuallyRealizedNegativePnlCollateral;
    uint128 alreadyTransferredNegativePnlCollateral;
    uint128 virtualAvailableCollateralInDiamond;
    uint128 __placeholder;
    int128 initialAccFundingFeeP;
    uint128 initialAccBorrowingFeeP;
}

struct GTradeHoldingFees {
    int256 fundingFeeCollateral;
    uint256 borrowingFeeCollateral;
    uint256 borrowingFeeCollateral_old;
    int256 totalFeeCollateral;
}

struct GTradeCollateral {
    address collateral;
    bool isActive;
    uint88 __placeholder;
    uint128 precision;
    uint128 precisionDelta;
}

struct GTradeCounter {
    uint32 currentIndex;
    uint32 openCount;
    uint192 __placeholder;
}

struct GTradeId {
    address user;
    uint32 index;
}

struct GTradePriceImpact {
    uint256 positionSizeToken;
    int256 fixedSpreadP;
    int256 cumulVolPriceImpactP;
    int256 skewPriceImpactP;
    int256 totalPriceImpactP;
    uint64 priceAfterImpact;
}

/// @notice The diamond's events perpwatch scans (same names and parameter types).
abstract contract GTradeEvents {
    event TradeStored(
        address indexed user,
        uint32 indexed index,
        GTradeTrade trade,
        GTradeTradeInfo tradeInfo,
        GTradeLiqParams liquidationParams
    );
    event TradeClosed(address indexed user, uint32 indexed index, bool isPnlPositive);
    event TradeCollateralUpdated(address indexed user, uint32 indexed index, uint120 collateralAmount);
    event TradePositionUpdated(
        address indexed user,
        uint32 indexed index,
        uint120 collateralAmount,
        uint24 leverage,
        uint64 openPrice,
        uint64 newSl,
        uint160 newPositionSizeToken,
        uint8 pendingOrderType,
        bool isPnlPositive
    );
    event MarketExecuted(
        GTradeId orderId,
        address indexed user,
        uint32 indexed index,
        GTradeTrade t,
        bool open,
        uint256 oraclePrice,
        uint256 marketPrice,
        uint256 liqPrice,
        GTradePriceImpact priceImpact,
        int256 percentProfit,
        uint256 amountSentToTrader,
        uint256 collateralPriceUsd
    );
    event LimitExecuted(
        GTradeId orderId,
        address indexed user,
        uint32 indexed index,
        uint32 indexed limitIndex,
        GTradeTrade t,
        address triggerCaller,
        uint8 orderType,
        uint256 oraclePrice,
        uint256 marketPrice,
        uint256 liqPrice,
        GTradePriceImpact priceImpact,
        int256 percentProfit,
        uint256 amountSentToTrader,
        uint256 collateralPriceUsd,
        bool exactExecution
    );
}

/// @notice What the simulator reads from a pair's price feed (a ChainlinkAggregatorSim).
interface IGTradePriceFeed {
    function latestRound() external view returns (uint80);

    function getRoundData(uint80 roundId)
        external
        view
        returns (uint80, int256, uint256, uint256, uint80);
}
