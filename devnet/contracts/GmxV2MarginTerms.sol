// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./GmxV2DataStore.sol";
import "./GmxV2Keys.sol";
import "./GmxV2Types.sol";

/// @title The liquidation check's terms beyond collateral, PnL and stored fees, as GMX v2
///        computes them (PositionUtils, PositionPricingUtils, MarketUtils at the deployed v2.2).
/// @notice balanceWasImproved of a full close (selects the closing-fee factor), price impact of
///         the close plus pendingImpactAmount with the liquidation floor, the traders' profit
///         cap, and the cumulative borrowing factor accrued to block.timestamp.
/// @dev Devnet limits: impact exponents must be 0, 1 or 2 (GMX uses PRBMath pow; the square here
///      is exact), the borrowing rate is the non-kink model without the smaller-side skip,
///      balance uses USD open interest (USE_OPEN_INTEREST_IN_TOKENS_FOR_BALANCE unset) and there
///      is no virtual inventory.
library GmxV2MarginTerms {
    uint256 internal constant FLOAT_PRECISION = 1e30;

    error UnsupportedExponent(uint256 exponentFactor);

    function applyFactor(uint256 value, uint256 factor) internal pure returns (uint256) {
        return (value * factor) / FLOAT_PRECISION;
    }

    /// @notice A side's open interest over both collateral tokens (halved in single-token markets).
    function openInterest(GmxV2DataStore ds, GmxV2Market.Props memory m, bool isLong, bool inTokens)
        internal
        view
        returns (uint256)
    {
        uint256 divisor = m.longToken == m.shortToken ? 2 : 1;
        return ds.getUint(GmxV2Keys.openInterestKey(m.marketToken, m.longToken, isLong, inTokens)) / divisor
            + ds.getUint(GmxV2Keys.openInterestKey(m.marketToken, m.shortToken, isLong, inTokens)) / divisor;
    }

    /// @notice Add `delta` (may be negative) to the OI of (market, collateral, side).
    function addOpenInterest(GmxV2DataStore ds, bytes32 key, int256 delta) internal {
        ds.setUint(key, uint256(int256(ds.getUint(key)) + delta));
    }

    /// @notice Would closing `size` of `isLong` strictly shrink |L - S|? (getPriceImpactUsd)
    function balanceWasImproved(uint256 longOi, uint256 shortOi, uint256 size, bool isLong)
        internal
        pure
        returns (bool)
    {
        (uint256 nextLong, uint256 nextShort) = _next(longOi, shortOi, size, isLong);
        return _diff(nextLong, nextShort) < _diff(longOi, shortOi);
    }

    function _next(uint256 longOi, uint256 shortOi, uint256 size, bool isLong)
        private
        pure
        returns (uint256, uint256)
    {
        if (isLong) return (size > longOi ? 0 : longOi - size, shortOi);
        return (longOi, size > shortOi ? 0 : shortOi - size);
    }

    function _diff(uint256 a, uint256 b) private pure returns (uint256) {
        return a > b ? a - b : b - a;
    }

    function _applyImpact(uint256 diffUsd, uint256 factor, uint256 exponent) private pure returns (uint256) {
        if (diffUsd < FLOAT_PRECISION || factor == 0) return 0;
        uint256 value;
        if (exponent == 0) value = FLOAT_PRECISION; // x^0 = 1, as PRBMath pow gives
        else if (exponent == FLOAT_PRECISION) value = diffUsd;
        else if (exponent == 2 * FLOAT_PRECISION) value = (diffUsd * diffUsd) / FLOAT_PRECISION;
        else revert UnsupportedExponent(exponent);
        return applyFactor(value, factor);
    }

    /// @notice Impact of closing `size` of `isLong` (USD 1e30, > 0 a credit), positive capped.
    function closeImpactUsd(GmxV2DataStore ds, address market, uint256 longOi, uint256 shortOi, uint256 size, bool isLong)
        internal
        view
        returns (int256 impact)
    {
        (uint256 nextLong, uint256 nextShort) = _next(longOi, shortOi, size, isLong);
        uint256 initialDiff = _diff(longOi, shortOi);
        uint256 nextDiff = _diff(nextLong, nextShort);
        uint256[2] memory f = _pair(ds, GmxV2Keys.POSITION_IMPACT_FACTOR, market); // [positive, negative]
        uint256[2] memory e = _pair(ds, GmxV2Keys.POSITION_IMPACT_EXPONENT_FACTOR, market);
        if ((longOi <= shortOi) == (nextLong <= nextShort)) {
            uint256 i = nextDiff < initialDiff ? 0 : 1;
            uint256 a = _applyImpact(initialDiff, f[i], e[i]);
            uint256 b = _applyImpact(nextDiff, f[i], e[i]);
            uint256 d = a > b ? a - b : b - a;
            impact = i == 0 ? int256(d) : -int256(d);
        } else {
            impact = int256(_applyImpact(initialDiff, f[0], e[0])) - int256(_applyImpact(nextDiff, f[1], e[1]));
        }
        if (impact > 0) {
            uint256[2] memory cap = _pair(ds, GmxV2Keys.MAX_POSITION_IMPACT_FACTOR, market);
            uint256 maxUsd = applyFactor(size, cap[0]);
            if (uint256(impact) > maxUsd) impact = int256(maxUsd);
        }
    }

    /// @dev [positive, negative] with the positive value never above the negative ("adjusted").
    function _pair(GmxV2DataStore ds, bytes32 base, address market) private view returns (uint256[2] memory v) {
        v[0] = ds.getUint(GmxV2Keys.marketFlagKey(base, market, true));
        v[1] = ds.getUint(GmxV2Keys.marketFlagKey(base, market, false));
        if (v[0] > v[1]) v[0] = v[1];
    }

    /// @notice The check's impact: close impact + pending impact at index min|max; >= 0 → 0,
    ///         else floored at -sizeInUsd · MAX_POSITION_IMPACT_FACTOR_FOR_LIQUIDATIONS.
    function clampedImpactUsd(int256 closeImpact, int256 pendingImpact, uint256 size, uint256 cap)
        internal
        pure
        returns (int256 impact)
    {
        impact = closeImpact + pendingImpact;
        if (impact >= 0) return 0;
        int256 floor = -int256(applyFactor(size, cap));
        if (impact < floor) impact = floor;
    }

    /// @notice getPositionPnlUsd's cap: a profit scaled by min(poolPnl, poolUsd · factor) / poolPnl.
    function cappedPnl(
        GmxV2DataStore ds,
        GmxV2Market.Props memory m,
        GmxV2Price.MarketPrices memory prices,
        bool isLong,
        int256 pnl
    ) internal view returns (int256) {
        if (pnl <= 0) return pnl;
        int256 poolPnl = _poolPnl(ds, m, prices, isLong);
        if (poolPnl <= 0) return pnl;
        uint256 factor = ds.getUint(GmxV2Keys.maxPnlFactorForTradersKey(m.marketToken, isLong));
        int256 maxPnl = int256(applyFactor(poolUsd(ds, m, prices, isLong), factor));
        int256 capped = poolPnl < maxPnl ? poolPnl : maxPnl;
        if (capped != poolPnl && capped > 0) return (pnl * capped) / poolPnl;
        return pnl;
    }

    /// @notice getPoolUsdWithoutPnl at the pool token's min price (pool amount halved in
    ///         single-token markets).
    function poolUsd(
        GmxV2DataStore ds,
        GmxV2Market.Props memory m,
        GmxV2Price.MarketPrices memory prices,
        bool isLong
    ) internal view returns (uint256) {
        uint256 divisor = m.longToken == m.shortToken ? 2 : 1;
        address poolToken = isLong ? m.longToken : m.shortToken;
        uint256 poolPrice = isLong ? prices.longTokenPrice.min : prices.shortTokenPrice.min;
        return ds.getUint(GmxV2Keys.poolAmountKey(m.marketToken, poolToken)) / divisor * poolPrice;
    }

    /// @dev MarketUtils.getPnl(maximize): the side's PnL, 0 without open interest.
    function _poolPnl(
        GmxV2DataStore ds,
        GmxV2Market.Props memory m,
        GmxV2Price.MarketPrices memory prices,
        bool isLong
    ) private view returns (int256) {
        uint256 oi = openInterest(ds, m, isLong, false);
        uint256 oiTokens = openInterest(ds, m, isLong, true);
        if (oi == 0 || oiTokens == 0) return 0;
        uint256 price = isLong ? prices.indexTokenPrice.max : prices.indexTokenPrice.min;
        return isLong ? int256(oiTokens * price) - int256(oi) : int256(oi) - int256(oiTokens * price);
    }

    /// @notice Cumulative borrowing factor at block.timestamp: stored + seconds · rate, with
    ///         rate = BORROWING_FACTOR · reservedUsd^exponent / poolUsd (non-kink model).
    function nextCumulativeBorrowingFactor(
        GmxV2DataStore ds,
        GmxV2Market.Props memory m,
        GmxV2Price.MarketPrices memory prices,
        bool isLong
    ) internal view returns (uint256) {
        uint256 cumulative = ds.getUint(GmxV2Keys.cumulativeBorrowingFactorKey(m.marketToken, isLong));
        uint256 updatedAt = ds.getUint(
            GmxV2Keys.marketFlagKey(GmxV2Keys.CUMULATIVE_BORROWING_FACTOR_UPDATED_AT, m.marketToken, isLong)
        );
        if (updatedAt == 0 || block.timestamp <= updatedAt) return cumulative;
        return cumulative + (block.timestamp - updatedAt) * borrowingFactorPerSecond(ds, m, prices, isLong);
    }

    function borrowingFactorPerSecond(
        GmxV2DataStore ds,
        GmxV2Market.Props memory m,
        GmxV2Price.MarketPrices memory prices,
        bool isLong
    ) internal view returns (uint256) {
        uint256 reserved = isLong
            ? openInterest(ds, m, true, true) * prices.indexTokenPrice.max
            : openInterest(ds, m, false, false);
        uint256 pool = poolUsd(ds, m, prices, isLong);
        if (reserved == 0 || pool == 0) return 0;
        uint256 exponent = ds.getUint(GmxV2Keys.marketFlagKey(GmxV2Keys.BORROWING_EXPONENT_FACTOR, m.marketToken, isLong));
        uint256 afterExponent = _applyImpact(reserved, FLOAT_PRECISION, exponent);
        uint256 factor = ds.getUint(GmxV2Keys.marketFlagKey(GmxV2Keys.BORROWING_FACTOR, m.marketToken, isLong));
        return applyFactor((afterExponent * FLOAT_PRECISION) / pool, factor);
    }
}
