// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./GTradeTypes.sol";

/// @title gTrade's liquidation rule in integers, as the devnet simulator applies it.
/// @notice Written from gTrade's documented rule (PROTOCOLS.md §4.4; SDK trade/liquidation):
///         threshold by leverage from the trade's snapshotted params (90 % when any of the five
///         is zero), closing fee on max(position size, min position size), holding fees net of
///         realised pnl, the v9.2+ closing spread. Integer math with floor division in its own
///         order: perpwatch computes the same rule in integers and exact rationals, so the two
///         differ by rounding only, unless either side gets a term wrong.
abstract contract GTradeMargin {
    uint256 internal constant P_100 = 100e10; // 100 % in percent * 1e10
    uint256 internal constant LEV = 1e3;
    uint256 internal constant DEFAULT_THRESHOLD_P = 90e10;

    /// @notice Liquidation threshold (percent * 1e10) of `leverage` (1e3) under `p`.
    function liqThresholdP(GTradeLiqParams memory p, uint256 leverage) public pure returns (uint256) {
        if (
            p.maxLiqSpreadP == 0 || p.startLiqThresholdP == 0 || p.endLiqThresholdP == 0
                || p.startLeverage == 0 || p.endLeverage == 0
        ) return DEFAULT_THRESHOLD_P;
        if (leverage <= p.startLeverage) return p.startLiqThresholdP;
        if (leverage >= p.endLeverage) return p.endLiqThresholdP;
        return p.startLiqThresholdP
            - ((leverage - p.startLeverage) * (p.startLiqThresholdP - p.endLiqThresholdP))
                / (p.endLeverage - p.startLeverage);
    }

    /// @notice Closing fee in collateral units: feeP * max(collateral * leverage,
    ///         minPositionSizeUsd (1e18) / collateral price (1e8)), no fee tiers.
    function closingFeeCollateral(
        uint256 totalPositionSizeFeeP,
        uint256 collateralAmount,
        uint256 leverage,
        uint256 minPositionSizeUsd,
        uint256 collateralPriceUsd,
        uint256 precision
    ) public pure returns (uint256) {
        uint256 size = (collateralAmount * leverage) / LEV;
        uint256 minSize = (minPositionSizeUsd * precision * 1e8) / (collateralPriceUsd * 1e18);
        return (totalPositionSizeFeeP * (size > minSize ? size : minSize)) / P_100;
    }

    /// @notice Liquidation price (1e10) of a trade given its total fees in collateral units
    ///         (closing + holding - (realised pnl - realised trading fees)) and closing
    ///         spread (percent * 1e10, 0 before v9.2 or when maxLiqSpreadP is 0).
    function liqPriceOf(
        bool long,
        uint256 openPrice,
        uint256 collateralAmount,
        uint256 leverage,
        int256 feesCollateral,
        uint256 thresholdP,
        uint256 spreadP
    ) public pure returns (uint256) {
        int256 numerator = int256(collateralAmount * thresholdP) - feesCollateral * int256(P_100);
        int256 distance = (int256(openPrice) * numerator * int256(LEV))
            / int256(collateralAmount * leverage * P_100);
        distance -= int256((openPrice * spreadP) / P_100);
        int256 price = long ? int256(openPrice) - distance : int256(openPrice) + distance;
        return price > 0 ? uint256(price) : 0;
    }
}
