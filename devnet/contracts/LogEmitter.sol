// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice Emits many copies of a prepared log per transaction, to fill a devnet with realistic
/// logs (scanner tests, ingestion benchmarks) at a fraction of the gas of building them in
/// Solidity. The caller ABI-encodes the event's data once, off chain.
contract LogEmitter {
    /// @notice Emit `count` logs with topics (t0, t1, t2Base + i) and the same `data`.
    /// @dev topic2 varies per log so consecutive logs name different accounts or rounds.
    function emit3(bytes calldata data, bytes32 t0, bytes32 t1, uint256 t2Base, uint256 count)
        external
    {
        assembly {
            let ptr := mload(0x40)
            calldatacopy(ptr, data.offset, data.length)
            for { let i := 0 } lt(i, count) { i := add(i, 1) } {
                log3(ptr, data.length, t0, t1, add(t2Base, i))
            }
        }
    }
}
