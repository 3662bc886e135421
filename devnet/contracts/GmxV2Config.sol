// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./GmxV2DataStore.sol";
import "./GmxV2EventEmitter.sol";

/// @title GMX v2 Config for the perpwatch devnet.
/// @notice `setUint`, `setBool` and `setBytes32` as GMX's `Config` has them: the value is stored
///         under `Keys.getFullKey(baseKey, data)` (the base key alone when `data` is empty, else
///         keccak256(baseKey ++ data)) and announced as EventLog1 `SetUint`/`SetBool`/
///         `SetBytes32` with the base key as topic1 and items baseKey, data and value.
///         Only the deployer writes, standing in for the CONFIG_KEEPER role.
contract GmxV2Config {
    error Unauthorized(address caller);

    GmxV2DataStore public immutable dataStore;
    GmxV2EventEmitter public immutable eventEmitter;
    address public immutable keeper;

    constructor(GmxV2DataStore dataStore_, GmxV2EventEmitter eventEmitter_) {
        dataStore = dataStore_;
        eventEmitter = eventEmitter_;
        keeper = msg.sender;
    }

    modifier onlyKeeper() {
        if (msg.sender != keeper) revert Unauthorized(msg.sender);
        _;
    }

    function setUint(bytes32 baseKey, bytes memory data, uint256 value) external onlyKeeper {
        dataStore.setUint(_fullKey(baseKey, data), value);
        GmxV2EventUtils.EventLogData memory eventData = _keyData(baseKey, data);
        eventData.uintItems.items = new GmxV2EventUtils.UintKeyValue[](1);
        eventData.uintItems.items[0] = GmxV2EventUtils.UintKeyValue("value", value);
        eventEmitter.emitEventLog1("SetUint", baseKey, eventData);
    }

    function setBool(bytes32 baseKey, bytes memory data, bool value) external onlyKeeper {
        dataStore.setBool(_fullKey(baseKey, data), value);
        GmxV2EventUtils.EventLogData memory eventData = _keyData(baseKey, data);
        eventData.boolItems.items = new GmxV2EventUtils.BoolKeyValue[](1);
        eventData.boolItems.items[0] = GmxV2EventUtils.BoolKeyValue("value", value);
        eventEmitter.emitEventLog1("SetBool", baseKey, eventData);
    }

    function setBytes32(bytes32 baseKey, bytes memory data, bytes32 value) external onlyKeeper {
        dataStore.setBytes32(_fullKey(baseKey, data), value);
        GmxV2EventUtils.EventLogData memory eventData = _keyData(baseKey, data);
        eventData.bytes32Items.items = new GmxV2EventUtils.Bytes32KeyValue[](2);
        eventData.bytes32Items.items[0] = GmxV2EventUtils.Bytes32KeyValue("baseKey", baseKey);
        eventData.bytes32Items.items[1] = GmxV2EventUtils.Bytes32KeyValue("value", value);
        eventEmitter.emitEventLog1("SetBytes32", baseKey, eventData);
    }

    function _fullKey(bytes32 baseKey, bytes memory data) private pure returns (bytes32) {
        return data.length == 0 ? baseKey : keccak256(bytes.concat(baseKey, data));
    }

    function _keyData(bytes32 baseKey, bytes memory data)
        private
        pure
        returns (GmxV2EventUtils.EventLogData memory eventData)
    {
        eventData.bytes32Items.items = new GmxV2EventUtils.Bytes32KeyValue[](1);
        eventData.bytes32Items.items[0] = GmxV2EventUtils.Bytes32KeyValue("baseKey", baseKey);
        eventData.bytesItems.items = new GmxV2EventUtils.BytesKeyValue[](1);
        eventData.bytesItems.items[0] = GmxV2EventUtils.BytesKeyValue("data", data);
    }
}
