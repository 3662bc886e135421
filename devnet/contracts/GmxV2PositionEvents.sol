// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./GmxV2EventEmitter.sol";
import "./GmxV2Types.sol";

/// @title PositionIncrease / PositionDecrease as `PositionEventUtils` emits them: EventLog1 with
///        the account as topic1 and the position's values *after* the change (0 when closed).
library GmxV2PositionEvents {
    struct Change {
        bytes32 positionKey;
        uint256 orderType; // 2 MarketIncrease, 4 MarketDecrease, 7 Liquidation
        uint256 executionPrice;
        uint256 sizeDeltaUsd;
        uint256 sizeDeltaInTokens;
        int256 collateralDeltaAmount;
        int256 basePnlUsd; // decreases only
    }

    function emitIncrease(GmxV2EventEmitter emitter, GmxV2Position.Props memory p, Change memory c)
        internal
    {
        emitter.emitEventLog1("PositionIncrease", _topic(p), _data(p, c, false));
    }

    function emitDecrease(GmxV2EventEmitter emitter, GmxV2Position.Props memory p, Change memory c)
        internal
    {
        emitter.emitEventLog1("PositionDecrease", _topic(p), _data(p, c, true));
    }

    function _topic(GmxV2Position.Props memory p) private pure returns (bytes32) {
        return bytes32(uint256(uint160(p.addresses.account)));
    }

    function _data(GmxV2Position.Props memory p, Change memory c, bool decrease)
        private
        pure
        returns (GmxV2EventUtils.EventLogData memory data)
    {
        GmxV2EventUtils.AddressKeyValue[] memory a = new GmxV2EventUtils.AddressKeyValue[](3);
        a[0] = GmxV2EventUtils.AddressKeyValue("account", p.addresses.account);
        a[1] = GmxV2EventUtils.AddressKeyValue("market", p.addresses.market);
        a[2] = GmxV2EventUtils.AddressKeyValue("collateralToken", p.addresses.collateralToken);
        data.addressItems.items = a;
        data.uintItems.items = _uints(p, c, decrease);
        GmxV2EventUtils.IntKeyValue[] memory i =
            new GmxV2EventUtils.IntKeyValue[](decrease ? 3 : 2);
        i[0] = GmxV2EventUtils.IntKeyValue("collateralDeltaAmount", c.collateralDeltaAmount);
        i[1] = GmxV2EventUtils.IntKeyValue("priceImpactUsd", 0);
        if (decrease) i[2] = GmxV2EventUtils.IntKeyValue("basePnlUsd", c.basePnlUsd);
        data.intItems.items = i;
        GmxV2EventUtils.BoolKeyValue[] memory b = new GmxV2EventUtils.BoolKeyValue[](1);
        b[0] = GmxV2EventUtils.BoolKeyValue("isLong", p.flags.isLong);
        data.boolItems.items = b;
        GmxV2EventUtils.Bytes32KeyValue[] memory k = new GmxV2EventUtils.Bytes32KeyValue[](1);
        k[0] = GmxV2EventUtils.Bytes32KeyValue("positionKey", c.positionKey);
        data.bytes32Items.items = k;
    }

    function _uints(GmxV2Position.Props memory p, Change memory c, bool decrease)
        private
        pure
        returns (GmxV2EventUtils.UintKeyValue[] memory u)
    {
        u = new GmxV2EventUtils.UintKeyValue[](10);
        u[0] = GmxV2EventUtils.UintKeyValue("sizeInUsd", p.numbers.sizeInUsd);
        u[1] = GmxV2EventUtils.UintKeyValue("sizeInTokens", p.numbers.sizeInTokens);
        u[2] = GmxV2EventUtils.UintKeyValue("collateralAmount", p.numbers.collateralAmount);
        u[3] = GmxV2EventUtils.UintKeyValue("borrowingFactor", p.numbers.borrowingFactor);
        u[4] = GmxV2EventUtils.UintKeyValue(
            "fundingFeeAmountPerSize", p.numbers.fundingFeeAmountPerSize
        );
        u[5] = GmxV2EventUtils.UintKeyValue("executionPrice", c.executionPrice);
        u[6] = GmxV2EventUtils.UintKeyValue("sizeDeltaUsd", c.sizeDeltaUsd);
        u[7] = GmxV2EventUtils.UintKeyValue("sizeDeltaInTokens", c.sizeDeltaInTokens);
        u[8] = GmxV2EventUtils.UintKeyValue("orderType", c.orderType);
        u[9] = decrease
            ? GmxV2EventUtils.UintKeyValue("decreasedAtTime", p.numbers.decreasedAtTime)
            : GmxV2EventUtils.UintKeyValue("increasedAtTime", p.numbers.increasedAtTime);
    }
}
