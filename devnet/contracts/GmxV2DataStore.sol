// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title GMX v2 DataStore for the perpwatch devnet.
/// @notice The getters have the deployed DataStore's selectors; values are keyed by the same
///         `Keys.sol` hashes, so readers built for Arbitrum read the devnet unchanged.
///         Writes are limited to controllers (the deployer and the exchange it registers),
///         standing in for GMX's RoleStore CONTROLLER role.
contract GmxV2DataStore {
    error Unauthorized(address caller);

    mapping(address => bool) public isController;
    mapping(bytes32 => uint256) private uintValues;
    mapping(bytes32 => int256) private intValues;
    mapping(bytes32 => address) private addressValues;
    mapping(bytes32 => bool) private boolValues;
    mapping(bytes32 => bytes32) private bytes32Values;
    mapping(bytes32 => bytes32[]) private bytes32Sets;
    // setKey => value => 1-based index in bytes32Sets[setKey]; 0 = absent.
    mapping(bytes32 => mapping(bytes32 => uint256)) private bytes32SetIndex;

    constructor() {
        isController[msg.sender] = true;
    }

    modifier onlyController() {
        if (!isController[msg.sender]) revert Unauthorized(msg.sender);
        _;
    }

    function setController(address account, bool enabled) external onlyController {
        isController[account] = enabled;
    }

    function getUint(bytes32 key) external view returns (uint256) {
        return uintValues[key];
    }

    function getInt(bytes32 key) external view returns (int256) {
        return intValues[key];
    }

    function getAddress(bytes32 key) external view returns (address) {
        return addressValues[key];
    }

    function getBool(bytes32 key) external view returns (bool) {
        return boolValues[key];
    }

    function getBytes32(bytes32 key) external view returns (bytes32) {
        return bytes32Values[key];
    }

    function setBytes32(bytes32 key, bytes32 value) external onlyController returns (bytes32) {
        bytes32Values[key] = value;
        return value;
    }

    function setUint(bytes32 key, uint256 value) external onlyController returns (uint256) {
        uintValues[key] = value;
        return value;
    }

    function setInt(bytes32 key, int256 value) external onlyController returns (int256) {
        intValues[key] = value;
        return value;
    }

    function setAddress(bytes32 key, address value) external onlyController returns (address) {
        addressValues[key] = value;
        return value;
    }

    function setBool(bytes32 key, bool value) external onlyController returns (bool) {
        boolValues[key] = value;
        return value;
    }

    function containsBytes32(bytes32 setKey, bytes32 value) external view returns (bool) {
        return bytes32SetIndex[setKey][value] != 0;
    }

    function getBytes32Count(bytes32 setKey) external view returns (uint256) {
        return bytes32Sets[setKey].length;
    }

    /// @notice Values at positions [start, end) of the set, `end` clipped to its length
    ///         (as GMX's `EnumerableValues.valuesAt`).
    function getBytes32ValuesAt(bytes32 setKey, uint256 start, uint256 end)
        external
        view
        returns (bytes32[] memory values)
    {
        bytes32[] storage set = bytes32Sets[setKey];
        if (end > set.length) end = set.length;
        if (start >= end) return new bytes32[](0);
        values = new bytes32[](end - start);
        for (uint256 i = start; i < end; i++) {
            values[i - start] = set[i];
        }
    }

    function addBytes32(bytes32 setKey, bytes32 value) external onlyController {
        if (bytes32SetIndex[setKey][value] != 0) return;
        bytes32Sets[setKey].push(value);
        bytes32SetIndex[setKey][value] = bytes32Sets[setKey].length;
    }

    /// @dev Swap-and-pop, like OpenZeppelin's EnumerableSet: order is not preserved.
    function removeBytes32(bytes32 setKey, bytes32 value) external onlyController {
        uint256 index = bytes32SetIndex[setKey][value];
        if (index == 0) return;
        bytes32[] storage set = bytes32Sets[setKey];
        bytes32 last = set[set.length - 1];
        set[index - 1] = last;
        bytes32SetIndex[setKey][last] = index;
        set.pop();
        delete bytes32SetIndex[setKey][value];
    }
}
