// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

// Shared types of the simulated HyperCore and its read precompiles.
// The three structs have the field order and types of the official L1Read.sol (Position,
// PerpAssetInfo, AccountMarginSummary), so `abi.encode` of them is exactly what the real
// precompiles return.
// Units: szi in 10^-szDecimals of the coin; entryNtl, rawUsd, accountValue, marginUsed and
// ntlPos in USD * 1e6; perp prices in USD * 10^(6 - szDecimals), so szi * px = USD * 1e6.

// Where the simulated HyperCore state lives: the precompiles read it from here, and the
// devnet installs HlCore's runtime code at this address (no constructor, no immutables).
address constant HL_CORE = address(uint160(0x484c436f7265));

struct HlPosition {
    int64 szi;
    uint64 entryNtl;
    int64 isolatedRawUsd;
    uint32 leverage;
    bool isIsolated;
}

struct HlPerpAssetInfo {
    string coin;
    uint32 marginTableId;
    uint8 szDecimals;
    uint8 maxLeverage;
    bool onlyIsolated;
}

struct HlAccountMarginSummary {
    int64 accountValue;
    uint64 marginUsed;
    uint64 ntlPos;
    int64 rawUsd;
}

/// The reads the precompiles forward to HlCore; each reverts for an unknown perp or dex.
interface IHlCoreReads {
    function position(address user, uint32 perp) external view returns (HlPosition memory);
    function markPx(uint32 perp) external view returns (uint64);
    function oraclePx(uint32 perp) external view returns (uint64);
    function perpAssetInfo(uint32 perp) external view returns (HlPerpAssetInfo memory);
    function accountMarginSummary(uint32 dex, address user)
        external
        view
        returns (HlAccountMarginSummary memory);
    function withdrawable(address user) external view returns (uint64);
}

// A failing HyperCore precompile consumes all gas of its frame (HyperEVM docs); the INVALID
// opcode does the same, so batches on the devnet fail the way they fail on HyperEVM.
function hlBurnAllGas() pure {
    assembly {
        invalid()
    }
}
