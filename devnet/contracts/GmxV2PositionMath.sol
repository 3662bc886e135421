// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./GmxV2DataStore.sol";
import "./GmxV2Keys.sol";
import "./GmxV2MarginTerms.sol";
import "./GmxV2Types.sol";

/// @title GMX v2's liquidation rule (`PositionUtils.isPositionLiquidatable`) and the fees it
///        counts (`PositionPricingUtils.getPositionFees`), on DataStore values.
/// @notice Units: USD and factors times 1e30; prices are USD per smallest token unit times 1e30.
///         remaining = collateralUsd + capped pnl + clamped impact - (closing fee[balanceWasImproved]
///         + borrowing accrued to block.timestamp + funding); liquidatable iff remaining <
///         minCollateralUsd, remaining <= 0, or remaining < sizeInUsd * factor.
/// @dev Simplifications, stated so that nobody mistakes the devnet for more than it is: the
///      limits of GmxV2MarginTerms, funding only as stored (no accrual between updates), no UI
///      fees or referral discounts, and fee USD is not round-tripped through collateral tokens.
///      Unlike the real Reader (stored state), the devnet Reader's check accrues borrowing to
///      block.timestamp, as the keeper's check does after updateFundingAndBorrowingState.
library GmxV2PositionMath {
    uint256 internal constant FLOAT_PRECISION = 1e30;
    uint256 internal constant FLOAT_PRECISION_SQRT = 1e15;

    struct Costs {
        uint256 closingFeeUsd;
        uint256 borrowingFeeUsd;
        uint256 fundingFeeAmount; // collateral token units
    }

    function applyFactor(uint256 value, uint256 factor) internal pure returns (uint256) {
        return (value * factor) / FLOAT_PRECISION;
    }

    function ceilDiv(uint256 a, uint256 b) internal pure returns (uint256) {
        return a == 0 ? 0 : (a - 1) / b + 1;
    }

    /// @notice The price of `token` among the market's long and short token prices.
    function collateralPrice(
        GmxV2Market.Props memory market,
        GmxV2Price.MarketPrices memory prices,
        address token
    ) internal pure returns (GmxV2Price.Props memory) {
        if (token == market.longToken) return prices.longTokenPrice;
        if (token == market.shortToken) return prices.shortTokenPrice;
        revert("invalid collateral token");
    }

    /// @notice Price PnL in USD·1e30: long at the index min price, short at the max.
    function pnlUsd(GmxV2Position.Props memory p, GmxV2Price.Props memory indexPrice)
        internal
        pure
        returns (int256)
    {
        if (p.flags.isLong) {
            return int256(p.numbers.sizeInTokens * indexPrice.min) - int256(p.numbers.sizeInUsd);
        }
        return int256(p.numbers.sizeInUsd) - int256(p.numbers.sizeInTokens * indexPrice.max);
    }

    /// @notice Fees owed if the position closed now (liquidation fee excluded, as GMX does):
    ///         closing fee with the factor of balanceWasImproved (a full close), borrowing at the
    ///         cumulative factor accrued to now, funding = sizeInUsd * Δ(perSize) / 1e45, up.
    function costs(
        GmxV2DataStore ds,
        GmxV2Position.Props memory p,
        GmxV2Market.Props memory m,
        GmxV2Price.MarketPrices memory prices
    ) internal view returns (Costs memory c) {
        address market = p.addresses.market;
        uint256 size = p.numbers.sizeInUsd;
        bool improved = GmxV2MarginTerms.balanceWasImproved(
            GmxV2MarginTerms.openInterest(ds, m, true, false),
            GmxV2MarginTerms.openInterest(ds, m, false, false),
            size,
            p.flags.isLong
        );
        c.closingFeeUsd = applyFactor(size, ds.getUint(GmxV2Keys.positionFeeFactorKey(market, improved)));
        uint256 cum = GmxV2MarginTerms.nextCumulativeBorrowingFactor(ds, m, prices, p.flags.isLong);
        if (cum > p.numbers.borrowingFactor) {
            c.borrowingFeeUsd = applyFactor(size, cum - p.numbers.borrowingFactor);
        }
        uint256 latest = ds.getUint(
            GmxV2Keys.fundingFeeAmountPerSizeKey(market, p.addresses.collateralToken, p.flags.isLong)
        );
        if (latest > p.numbers.fundingFeeAmountPerSize) {
            c.fundingFeeAmount = ceilDiv(
                size * (latest - p.numbers.fundingFeeAmountPerSize),
                FLOAT_PRECISION * FLOAT_PRECISION_SQRT
            );
        }
    }

    /// @notice Capped PnL plus the clamped impact of a full close (pending impact included).
    function pnlAndImpactUsd(
        GmxV2DataStore ds,
        GmxV2Position.Props memory p,
        GmxV2Market.Props memory m,
        GmxV2Price.MarketPrices memory prices
    ) internal view returns (int256) {
        int256 pnl = GmxV2MarginTerms.cappedPnl(ds, m, prices, p.flags.isLong, pnlUsd(p, prices.indexTokenPrice));
        int256 pending = p.numbers.pendingImpactAmount;
        int256 pendingUsd = pending * int256(pending > 0 ? prices.indexTokenPrice.min : prices.indexTokenPrice.max);
        int256 closeImpact = GmxV2MarginTerms.closeImpactUsd(
            ds,
            m.marketToken,
            GmxV2MarginTerms.openInterest(ds, m, true, false),
            GmxV2MarginTerms.openInterest(ds, m, false, false),
            p.numbers.sizeInUsd,
            p.flags.isLong
        );
        uint256 cap = ds.getUint(
            GmxV2Keys.marketKey(GmxV2Keys.MAX_POSITION_IMPACT_FACTOR_FOR_LIQUIDATIONS, m.marketToken)
        );
        return pnl + GmxV2MarginTerms.clampedImpactUsd(closeImpact, pendingUsd, p.numbers.sizeInUsd, cap);
    }

    function isLiquidatable(
        GmxV2DataStore ds,
        GmxV2Position.Props memory p,
        GmxV2Market.Props memory market,
        GmxV2Price.MarketPrices memory prices,
        bool shouldValidateMinCollateralUsd,
        bool forLiquidation
    ) internal view returns (bool, string memory, GmxV2Liquidation.Info memory info) {
        uint256 collateralMin = collateralPrice(market, prices, p.addresses.collateralToken).min;
        Costs memory c = costs(ds, p, market, prices);
        uint256 costUsd = c.closingFeeUsd + c.borrowingFeeUsd + c.fundingFeeAmount * collateralMin;
        info.remainingCollateralUsd = int256(p.numbers.collateralAmount * collateralMin)
            + pnlAndImpactUsd(ds, p, market, prices) - int256(costUsd);
        if (shouldValidateMinCollateralUsd) {
            info.minCollateralUsd = int256(ds.getUint(GmxV2Keys.MIN_COLLATERAL_USD));
            if (info.remainingCollateralUsd < info.minCollateralUsd) {
                return (true, "min collateral", info);
            }
        }
        if (info.remainingCollateralUsd <= 0) return (true, "< 0", info);
        bytes32 factorKey = forLiquidation
            ? GmxV2Keys.minCollateralFactorForLiquidationKey(market.marketToken)
            : GmxV2Keys.minCollateralFactorKey(market.marketToken);
        info.minCollateralUsdForLeverage =
            int256(applyFactor(p.numbers.sizeInUsd, ds.getUint(factorKey)));
        if (info.remainingCollateralUsd < info.minCollateralUsdForLeverage) {
            return (true, "min collateral for leverage", info);
        }
        return (false, "", info);
    }
}
