// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title GMX v2 `EventUtils.EventLogData`: seven groups of (key, value) items.
library GmxV2EventUtils {
    struct AddressKeyValue { string key; address value; }
    struct AddressArrayKeyValue { string key; address[] value; }
    struct AddressItems { AddressKeyValue[] items; AddressArrayKeyValue[] arrayItems; }

    struct UintKeyValue { string key; uint256 value; }
    struct UintArrayKeyValue { string key; uint256[] value; }
    struct UintItems { UintKeyValue[] items; UintArrayKeyValue[] arrayItems; }

    struct IntKeyValue { string key; int256 value; }
    struct IntArrayKeyValue { string key; int256[] value; }
    struct IntItems { IntKeyValue[] items; IntArrayKeyValue[] arrayItems; }

    struct BoolKeyValue { string key; bool value; }
    struct BoolArrayKeyValue { string key; bool[] value; }
    struct BoolItems { BoolKeyValue[] items; BoolArrayKeyValue[] arrayItems; }

    struct Bytes32KeyValue { string key; bytes32 value; }
    struct Bytes32ArrayKeyValue { string key; bytes32[] value; }
    struct Bytes32Items { Bytes32KeyValue[] items; Bytes32ArrayKeyValue[] arrayItems; }

    struct BytesKeyValue { string key; bytes value; }
    struct BytesArrayKeyValue { string key; bytes[] value; }
    struct BytesItems { BytesKeyValue[] items; BytesArrayKeyValue[] arrayItems; }

    struct StringKeyValue { string key; string value; }
    struct StringArrayKeyValue { string key; string[] value; }
    struct StringItems { StringKeyValue[] items; StringArrayKeyValue[] arrayItems; }

    struct EventLogData {
        AddressItems addressItems;
        UintItems uintItems;
        IntItems intItems;
        BoolItems boolItems;
        Bytes32Items bytes32Items;
        BytesItems bytesItems;
        StringItems stringItems;
    }
}

/// @title GMX v2 EventEmitter for the perpwatch devnet.
/// @notice Emits `EventLog`, `EventLog1` and `EventLog2` with the deployed signatures (same
///         topic0s); topics[1] is keccak256 of the raw event name. Only controllers emit.
contract GmxV2EventEmitter {
    event EventLog(
        address msgSender,
        string eventName,
        string indexed eventNameHash,
        GmxV2EventUtils.EventLogData eventData
    );
    event EventLog1(
        address msgSender,
        string eventName,
        string indexed eventNameHash,
        bytes32 indexed topic1,
        GmxV2EventUtils.EventLogData eventData
    );
    event EventLog2(
        address msgSender,
        string eventName,
        string indexed eventNameHash,
        bytes32 indexed topic1,
        bytes32 indexed topic2,
        GmxV2EventUtils.EventLogData eventData
    );

    error Unauthorized(address caller);

    mapping(address => bool) public isController;

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

    function emitEventLog(string memory eventName, GmxV2EventUtils.EventLogData memory eventData)
        external
        onlyController
    {
        emit EventLog(msg.sender, eventName, eventName, eventData);
    }

    function emitEventLog1(
        string memory eventName,
        bytes32 topic1,
        GmxV2EventUtils.EventLogData memory eventData
    ) external onlyController {
        emit EventLog1(msg.sender, eventName, eventName, topic1, eventData);
    }

    function emitEventLog2(
        string memory eventName,
        bytes32 topic1,
        bytes32 topic2,
        GmxV2EventUtils.EventLogData memory eventData
    ) external onlyController {
        emit EventLog2(msg.sender, eventName, eventName, topic1, topic2, eventData);
    }
}
