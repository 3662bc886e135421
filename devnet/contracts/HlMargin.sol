// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./HlTypes.sol";

/// @title Storage and margin arithmetic of the simulated HyperCore (see HlCore).
/// @dev All USD amounts are USD * 1e6 (szi * px); maintenance margin is carried multiplied by
///      MM_SCALE so that |ntl| / (2 * maxLeverage) keeps its fraction and the comparison with
///      the account value is exact for every realistic max leverage.
abstract contract HlMargin {
    struct Perp {
        string coin;
        uint8 szDecimals;
        uint8 maxLeverage;
        bool onlyIsolated;
        bool listed;
        uint64 markPx;
        uint64 oraclePx;
    }

    /// Cross part of one user at the mark price.
    struct CrossState {
        int256 accountValue; // rawUsd + sum(szi * markPx)
        uint256 marginUsed; // sum |szi * markPx| / leverage (initial margin)
        uint256 ntlPos; // sum |szi * markPx|
        uint256 mmScaled; // sum |szi * markPx| * MM_SCALE / (2 * maxLeverage)
    }

    /// From `lowerBoundUsd` (whole USD of position notional) up, at most `maxLeverage`.
    struct MarginTier {
        uint64 lowerBoundUsd;
        uint8 maxLeverage;
    }

    uint256 internal constant MM_SCALE = 1e6;

    mapping(uint32 => Perp) internal _perps;
    uint32[] internal _perpIds;
    mapping(address => int64) internal _crossRawUsd;
    mapping(address => mapping(uint32 => HlPosition)) internal _positions;
    mapping(uint32 => MarginTier[]) internal _tiers; // empty: one tier at Perp.maxLeverage

    error Overflow();

    function _cross(address user) internal view returns (CrossState memory s) {
        s.accountValue = _crossRawUsd[user];
        for (uint256 i = 0; i < _perpIds.length; i++) {
            uint32 id = _perpIds[i];
            HlPosition storage pos = _positions[user][id];
            if (pos.szi == 0 || pos.isIsolated) continue;
            Perp storage p = _perps[id];
            int256 signedNtl = int256(pos.szi) * int256(uint256(p.markPx));
            uint256 ntl = _abs(signedNtl);
            s.accountValue += signedNtl;
            s.ntlPos += ntl;
            s.marginUsed += ntl / pos.leverage;
            s.mmScaled += _mmScaled(ntl, id);
        }
    }

    /// Equity (isolatedRawUsd + szi * markPx) and scaled maintenance margin of an isolated
    /// position.
    function _isolated(uint32 perp, HlPosition storage pos)
        internal
        view
        returns (int256 equity, uint256 mmScaled)
    {
        int256 signedNtl = int256(pos.szi) * int256(uint256(_perps[perp].markPx));
        equity = int256(pos.isolatedRawUsd) + signedNtl;
        mmScaled = _mmScaled(_abs(signedNtl), perp);
    }

    /// Maintenance margin = half the initial margin at max leverage: ntl / (2 * maxLeverage).
    /// With tiers, each tier's rate applies to the part of the notional inside that tier:
    /// the same as the docs' `ntl * mmr_k - deduction_k`, written so it is visibly continuous.
    function _mmScaled(uint256 ntl, uint32 perp) internal view returns (uint256 mm) {
        MarginTier[] storage tiers = _tiers[perp];
        if (tiers.length == 0) return ntl * MM_SCALE / (2 * uint256(_perps[perp].maxLeverage));
        for (uint256 i = 0; i < tiers.length; i++) {
            uint256 lo = uint256(tiers[i].lowerBoundUsd) * 1e6;
            if (ntl <= lo) break;
            uint256 hi = i + 1 < tiers.length ? uint256(tiers[i + 1].lowerBoundUsd) * 1e6 : ntl;
            uint256 part = (ntl < hi ? ntl : hi) - lo;
            mm += part * MM_SCALE / (2 * uint256(tiers[i].maxLeverage));
        }
    }

    /// Entry notional after a trade at `px`: increases add |delta| * px, reductions keep the
    /// average entry price (scale pro rata), a flip starts afresh at px.
    function _newEntry(uint64 entryNtl, int256 oldSzi, int256 newSzi, uint64 px)
        internal
        pure
        returns (uint64)
    {
        if (newSzi == 0) return 0;
        if (oldSzi == 0 || !_sameSign(oldSzi, newSzi)) return _toUint64(_abs(newSzi) * px);
        if (_abs(newSzi) > _abs(oldSzi)) {
            return _toUint64(uint256(entryNtl) + (_abs(newSzi) - _abs(oldSzi)) * px);
        }
        return _toUint64(uint256(entryNtl) * _abs(newSzi) / _abs(oldSzi));
    }

    function _sameSign(int256 a, int256 b) internal pure returns (bool) {
        return (a > 0 && b > 0) || (a < 0 && b < 0);
    }

    function _abs(int256 x) internal pure returns (uint256) {
        return x >= 0 ? uint256(x) : uint256(-x);
    }

    function _toInt64(int256 x) internal pure returns (int64) {
        if (x < type(int64).min || x > type(int64).max) revert Overflow();
        return int64(x);
    }

    function _toUint64(uint256 x) internal pure returns (uint64) {
        if (x > type(uint64).max) revert Overflow();
        return uint64(x);
    }
}
