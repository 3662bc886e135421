// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./HlTypes.sol";
import "./HlMargin.sol";

/// @title Simulated HyperCore perps clearinghouse (main dex 0) for perpwatch's devnet.
/// @notice Holds what the read precompiles report and applies Hyperliquid's liquidation rule:
///         maintenance margin is half the initial margin at max leverage (mmr = 1/(2*maxLev)),
///         evaluated at the MARK price; a cross account is liquidatable when its account value
///         (USDC + cross uPnL) < sum of cross MM, an isolated position when margin + uPnL < MM.
/// @dev Accounting follows the precompiles' "raw USD": every trade moves -szi*px into rawUsd,
///      so cross account value = rawUsd + sum(szi * markPx) and isolated equity =
///      isolatedRawUsd + szi * markPx (long: margin - entryNtl, short: margin + entryNtl).
///      accountMarginSummary covers the cross part only. Trades fill at the mark price; no
///      fees, funding or backstop liquidation. Liquidations are market liquidations at mark,
///      partial as on the venue: a position over 100k USD of notional loses 20 % of its size,
///      and for 30 s after a block with a partial liquidation every liquidation of that user
///      is whole. Margin tiers apply once set with
///      setMarginTiers (mainnet's tables are not built in). Setters are open to any
///      caller: this is a devnet fixture. Runtime code only (no constructor), see HL_CORE.
contract HlCore is HlMargin {
    error UnknownPerp(uint32 perp);
    error UnknownDex(uint32 dex);
    error BadTrade(string reason);
    error NotLiquidatable(address user, uint32 perp);

    /// @dev Notional (USD * 1e6) above which a liquidation is partial: 100k USDC on mainnet.
    uint256 internal constant PARTIAL_ABOVE_NTL = 100_000e6;
    /// @dev After a block with a partial liquidation, the user's liquidations are whole.
    uint256 internal constant PARTIAL_COOLDOWN_S = 30;

    mapping(address => uint256) internal _wholeUntil;

    // ------------------------------------------------------------------ sim-only setters

    /// @notice Add a perp. marginTableId = maxLeverage (ids < 50 are one-tier tables).
    function listPerp(
        uint32 perp,
        string calldata coin,
        uint8 szDecimals,
        uint8 maxLeverage,
        bool onlyIsolated
    ) external {
        if (_perps[perp].listed || szDecimals > 6 || maxLeverage == 0) revert BadTrade("bad perp");
        _perps[perp] = Perp(coin, szDecimals, maxLeverage, onlyIsolated, true, 0, 0);
        _perpIds.push(perp);
    }

    /// @notice Give a perp margin tiers (bounds in whole USD ascending from 0, each max
    ///         leverage >= 1); its marginTableId becomes 50 + perp (ids >= 50: tiered tables).
    function setMarginTiers(
        uint32 perp,
        uint64[] calldata lowerBoundsUsd,
        uint8[] calldata maxLeverages
    ) external {
        _listed(perp);
        uint256 n = lowerBoundsUsd.length;
        if (n == 0 || n != maxLeverages.length || lowerBoundsUsd[0] != 0) revert BadTrade("bad tiers");
        delete _tiers[perp];
        for (uint256 i = 0; i < n; i++) {
            bool ascending = i == 0 || lowerBoundsUsd[i] > lowerBoundsUsd[i - 1];
            if (!ascending || maxLeverages[i] == 0) revert BadTrade("bad tiers");
            _tiers[perp].push(MarginTier(lowerBoundsUsd[i], maxLeverages[i]));
        }
    }

    /// @notice Prices in USD * 10^(6 - szDecimals).
    function setPrices(uint32 perp, uint64 mark, uint64 oracle) external {
        Perp storage p = _listed(perp);
        p.markPx = mark;
        p.oraclePx = oracle;
    }

    /// @notice Credit `usd` (USD * 1e6) to the user's cross balance.
    function deposit(address user, uint64 usd) external {
        _crossRawUsd[user] = _toInt64(int256(_crossRawUsd[user]) + int256(uint256(usd)));
    }

    /// @notice Change a position by `sziDelta` at the mark price. An isolated increase moves
    ///         |delta| * mark / leverage of margin from the cross balance into the position.
    ///         Increases must leave the cross account value >= its initial margin.
    function trade(address user, uint32 perp, int64 sziDelta, uint32 leverage, bool isolated)
        external
    {
        Perp storage p = _listed(perp);
        HlPosition storage pos = _positions[user][perp];
        if (sziDelta == 0 || leverage == 0 || leverage > p.maxLeverage) {
            revert BadTrade("size or leverage");
        }
        if (p.onlyIsolated && !isolated) revert BadTrade("perp is isolated-only");
        if (pos.szi != 0 && pos.isIsolated != isolated) revert BadTrade("margin mode is fixed");
        int256 oldSzi = pos.szi;
        int256 newSzi = oldSzi + sziDelta;
        bool increase = oldSzi == 0 || (_sameSign(oldSzi, newSzi) && _abs(newSzi) > _abs(oldSzi));
        if (isolated && !increase && newSzi != 0 && !_sameSign(oldSzi, newSzi)) {
            revert BadTrade("close an isolated position before flipping it");
        }
        int256 cash = -int256(sziDelta) * int256(uint256(p.markPx));
        pos.entryNtl = _newEntry(pos.entryNtl, oldSzi, newSzi, p.markPx);
        pos.szi = _toInt64(newSzi);
        pos.leverage = leverage;
        pos.isIsolated = isolated;
        if (isolated) {
            int256 margin = int256(_abs(cash) / leverage);
            if (!increase) margin = 0;
            pos.isolatedRawUsd = _toInt64(int256(pos.isolatedRawUsd) + cash + margin);
            _crossRawUsd[user] = _toInt64(int256(_crossRawUsd[user]) - margin);
            if (newSzi == 0) _settleIsolated(user, perp);
        } else {
            _crossRawUsd[user] = _toInt64(int256(_crossRawUsd[user]) + cash);
            if (newSzi == 0) delete _positions[user][perp];
        }
        if (increase) _requireInitialMargin(user);
    }

    /// @notice Move `usd` (USD * 1e6, negative = withdraw) between cross and an isolated position.
    function adjustIsolatedMargin(address user, uint32 perp, int64 usd) external {
        HlPosition storage pos = _positions[user][perp];
        if (pos.szi == 0 || !pos.isIsolated) revert BadTrade("no isolated position");
        pos.isolatedRawUsd = _toInt64(int256(pos.isolatedRawUsd) + usd);
        _crossRawUsd[user] = _toInt64(int256(_crossRawUsd[user]) - usd);
        (int256 equity,) = _isolated(perp, pos);
        if (equity < 0) revert BadTrade("isolated margin below zero");
        if (usd > 0) _requireInitialMargin(user);
    }

    // ------------------------------------------------------------------ liquidation

    /// @notice Whether `liquidate(user, perp)` would succeed now (false without a position).
    function isLiquidatable(address user, uint32 perp) public view returns (bool) {
        HlPosition storage pos = _positions[user][perp];
        if (pos.szi == 0) return false;
        if (pos.isIsolated) {
            (int256 equity, uint256 mmScaled) = _isolated(perp, pos);
            return equity * int256(MM_SCALE) < int256(mmScaled);
        }
        CrossState memory s = _cross(user);
        return s.accountValue * int256(MM_SCALE) < int256(s.mmScaled);
    }

    /// @notice Keeper entry point. An isolated position is closed and its margin forfeited; a
    ///         cross liquidation closes every cross position at mark and leaves the remaining
    ///         account value as USDC (a market liquidation, not the backstop). A position whose
    ///         notional exceeds PARTIAL_ABOVE_NTL only loses a fifth of its size (an isolated
    ///         one keeps its margin), unless the user is in a partial-liquidation cooldown.
    function liquidate(address user, uint32 perp) external {
        if (!isLiquidatable(user, perp)) revert NotLiquidatable(user, perp);
        bool whole = block.timestamp < _wholeUntil[user];
        bool cut;
        if (_positions[user][perp].isIsolated) {
            cut = _liquidatePosition(user, perp, whole);
        } else {
            for (uint256 i = 0; i < _perpIds.length; i++) {
                uint32 id = _perpIds[i];
                HlPosition storage pos = _positions[user][id];
                if (pos.szi == 0 || pos.isIsolated) continue;
                cut = _liquidatePosition(user, id, whole) || cut;
            }
        }
        if (cut) _wholeUntil[user] = block.timestamp + PARTIAL_COOLDOWN_S;
    }

    /// @dev Sells (buys back) the position, or a fifth of it when it is large and `whole` is
    ///      false, at mark; returns whether it was partial.
    function _liquidatePosition(address user, uint32 perp, bool whole) internal returns (bool) {
        HlPosition storage pos = _positions[user][perp];
        uint64 mark = _perps[perp].markPx;
        int256 szi = pos.szi;
        bool cut = !whole && _abs(szi) * uint256(mark) > PARTIAL_ABOVE_NTL && szi / 5 != 0;
        int256 closed = cut ? szi / 5 : szi; // toward zero, like the venue's size units
        int256 cash = closed * int256(uint256(mark));
        if (pos.isIsolated) {
            if (!cut) {
                delete _positions[user][perp];
                return false;
            }
            pos.isolatedRawUsd = _toInt64(int256(pos.isolatedRawUsd) + cash);
        } else {
            _crossRawUsd[user] = _toInt64(int256(_crossRawUsd[user]) + cash);
            if (!cut) {
                delete _positions[user][perp];
                return false;
            }
        }
        pos.entryNtl = _newEntry(pos.entryNtl, szi, szi - closed, mark);
        pos.szi = _toInt64(szi - closed);
        return true;
    }

    // ------------------------------------------------------------------ precompile reads

    function position(address user, uint32 perp) external view returns (HlPosition memory) {
        _listed(perp);
        return _positions[user][perp];
    }

    function markPx(uint32 perp) external view returns (uint64) {
        return _listed(perp).markPx;
    }

    function oraclePx(uint32 perp) external view returns (uint64) {
        return _listed(perp).oraclePx;
    }

    function perpAssetInfo(uint32 perp) external view returns (HlPerpAssetInfo memory) {
        Perp storage p = _listed(perp);
        uint32 table = _tiers[perp].length > 0 ? 50 + perp : p.maxLeverage;
        return HlPerpAssetInfo(p.coin, table, p.szDecimals, p.maxLeverage, p.onlyIsolated);
    }

    /// @notice The cross part of dex 0: (accountValue, initial margin used, sum |szi*mark|,
    ///         rawUsd).
    function accountMarginSummary(uint32 dex, address user)
        external
        view
        returns (HlAccountMarginSummary memory)
    {
        if (dex != 0) revert UnknownDex(dex);
        CrossState memory s = _cross(user);
        return HlAccountMarginSummary(
            _toInt64(s.accountValue),
            _toUint64(s.marginUsed),
            _toUint64(s.ntlPos),
            _crossRawUsd[user]
        );
    }

    /// @notice Cross account value minus initial margin used, floored at 0 (USD * 1e6).
    function withdrawable(address user) external view returns (uint64) {
        CrossState memory s = _cross(user);
        int256 free = s.accountValue - int256(s.marginUsed);
        return free > 0 ? _toUint64(uint256(free)) : 0;
    }

    // ------------------------------------------------------------------ internals

    function _listed(uint32 perp) internal view returns (Perp storage p) {
        p = _perps[perp];
        if (!p.listed) revert UnknownPerp(perp);
    }

    function _settleIsolated(address user, uint32 perp) internal {
        // Fully closed: whatever equity is left in the position returns to the cross balance.
        int256 left = _positions[user][perp].isolatedRawUsd;
        _crossRawUsd[user] = _toInt64(int256(_crossRawUsd[user]) + left);
        delete _positions[user][perp];
    }

    function _requireInitialMargin(address user) internal view {
        CrossState memory s = _cross(user);
        if (s.accountValue < int256(s.marginUsed)) revert BadTrade("insufficient margin");
    }
}
