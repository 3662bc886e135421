// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./GmxV2DataStore.sol";
import "./GmxV2Keys.sol";
import "./GmxV2PositionMath.sol";
import "./GmxV2Store.sol";
import "./GmxV2Types.sol";

/// @title GMX v2 Reader for the perpwatch devnet: the deployed Reader's selectors and return
///        layouts for the functions perpwatch uses. Stateless: every call names its DataStore.
contract GmxV2Reader {
    function getMarket(GmxV2DataStore dataStore, address key)
        external
        view
        returns (GmxV2Market.Props memory)
    {
        return GmxV2Store.getMarket(dataStore, key);
    }

    function getMarkets(GmxV2DataStore dataStore, uint256 start, uint256 end)
        external
        view
        returns (GmxV2Market.Props[] memory markets)
    {
        bytes32[] memory keys = dataStore.getBytes32ValuesAt(GmxV2Keys.MARKET_LIST, start, end);
        markets = new GmxV2Market.Props[](keys.length);
        for (uint256 i = 0; i < keys.length; i++) {
            markets[i] = GmxV2Store.getMarket(dataStore, address(uint160(uint256(keys[i]))));
        }
    }

    function getPosition(GmxV2DataStore dataStore, bytes32 key)
        external
        view
        returns (GmxV2Position.Props memory)
    {
        return GmxV2Store.getPosition(dataStore, key);
    }

    function getAccountPositions(
        GmxV2DataStore dataStore,
        address account,
        uint256 start,
        uint256 end
    ) external view returns (GmxV2Position.Props[] memory positions) {
        bytes32[] memory keys = dataStore.getBytes32ValuesAt(
            GmxV2Keys.accountPositionListKey(account), start, end
        );
        positions = new GmxV2Position.Props[](keys.length);
        for (uint256 i = 0; i < keys.length; i++) {
            positions[i] = GmxV2Store.getPosition(dataStore, keys[i]);
        }
    }

    /// @param referralStorage unused: the devnet has no referral discounts.
    function isPositionLiquidatable(
        GmxV2DataStore dataStore,
        address referralStorage,
        bytes32 positionKey,
        GmxV2Market.Props memory market,
        GmxV2Price.MarketPrices memory prices,
        bool shouldValidateMinCollateralUsd,
        bool forLiquidation
    ) public view returns (bool, string memory, GmxV2Liquidation.Info memory) {
        referralStorage;
        GmxV2Position.Props memory position = GmxV2Store.getPosition(dataStore, positionKey);
        return GmxV2PositionMath.isLiquidatable(
            dataStore, position, market, prices, shouldValidateMinCollateralUsd, forLiquidation
        );
    }

    /// @notice Devnet-only: GMX's liquidation rule on a position in memory (the exchange checks
    ///         positions before it stores them). Not part of the deployed Reader's ABI.
    function checkPosition(
        GmxV2DataStore dataStore,
        GmxV2Position.Props memory position,
        GmxV2Market.Props memory market,
        GmxV2Price.MarketPrices memory prices,
        bool shouldValidateMinCollateralUsd,
        bool forLiquidation
    ) external view returns (bool, string memory, GmxV2Liquidation.Info memory) {
        return GmxV2PositionMath.isLiquidatable(
            dataStore, position, market, prices, shouldValidateMinCollateralUsd, forLiquidation
        );
    }
}
