// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./HlTypes.sol";

/// @title HyperEVM read precompiles, simulated for perpwatch's devnet.
/// @notice One contract per precompile, installed with anvil_setCode at the real address
///         (0x...0800 position, 0x...0813 position2, 0x...0806 markPx, 0x...0807 oraclePx,
///         0x...080a perpAssetInfo, 0x...080f accountMarginSummary, 0x...0803 withdrawable).
///         Like the real ones they take `abi.encode(args)` WITHOUT a selector and return
///         `abi.encode(output)` in L1Read.sol's layout; an unknown perp or dex consumes all gas.
/// @dev Each forwards to HlCore at HL_CORE with a static call.

contract HlPositionPrecompile {
    fallback(bytes calldata input) external returns (bytes memory) {
        (address user, uint16 perp) = abi.decode(input, (address, uint16));
        try IHlCoreReads(HL_CORE).position(user, perp) returns (HlPosition memory p) {
            return abi.encode(p);
        } catch {
            hlBurnAllGas();
        }
    }
}

contract HlPosition2Precompile {
    fallback(bytes calldata input) external returns (bytes memory) {
        (address user, uint32 perp) = abi.decode(input, (address, uint32));
        try IHlCoreReads(HL_CORE).position(user, perp) returns (HlPosition memory p) {
            return abi.encode(p);
        } catch {
            hlBurnAllGas();
        }
    }
}

contract HlMarkPxPrecompile {
    fallback(bytes calldata input) external returns (bytes memory) {
        uint32 perp = abi.decode(input, (uint32));
        try IHlCoreReads(HL_CORE).markPx(perp) returns (uint64 px) {
            return abi.encode(px);
        } catch {
            hlBurnAllGas();
        }
    }
}

contract HlOraclePxPrecompile {
    fallback(bytes calldata input) external returns (bytes memory) {
        uint32 perp = abi.decode(input, (uint32));
        try IHlCoreReads(HL_CORE).oraclePx(perp) returns (uint64 px) {
            return abi.encode(px);
        } catch {
            hlBurnAllGas();
        }
    }
}

contract HlPerpAssetInfoPrecompile {
    fallback(bytes calldata input) external returns (bytes memory) {
        uint32 perp = abi.decode(input, (uint32));
        try IHlCoreReads(HL_CORE).perpAssetInfo(perp) returns (HlPerpAssetInfo memory info) {
            return abi.encode(info);
        } catch {
            hlBurnAllGas();
        }
    }
}

contract HlAccountMarginSummaryPrecompile {
    fallback(bytes calldata input) external returns (bytes memory) {
        (uint32 dex, address user) = abi.decode(input, (uint32, address));
        try IHlCoreReads(HL_CORE).accountMarginSummary(dex, user) returns (
            HlAccountMarginSummary memory s
        ) {
            return abi.encode(s);
        } catch {
            hlBurnAllGas();
        }
    }
}

contract HlWithdrawablePrecompile {
    fallback(bytes calldata input) external returns (bytes memory) {
        address user = abi.decode(input, (address));
        try IHlCoreReads(HL_CORE).withdrawable(user) returns (uint64 amount) {
            return abi.encode(amount);
        } catch {
            hlBurnAllGas();
        }
    }
}
