// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title Minimal contract for perpwatch's devnet self-tests.
/// @notice A counter with a constructor argument, an event and a function that always reverts,
///         so deploy, transact, call and Multicall3 failure handling can be checked end to end.
contract Counter {
    error Boom(uint256 code);

    event Incremented(address indexed by, uint256 newCount);

    uint256 public count;

    constructor(uint256 start) {
        count = start;
    }

    function add(uint256 amount) external returns (uint256) {
        count += amount;
        emit Incremented(msg.sender, count);
        return count;
    }

    /// @notice Always reverts with Boom(code); for exercising allowFailure paths.
    function boom(uint256 code) external pure returns (uint256) {
        revert Boom(code);
    }
}
