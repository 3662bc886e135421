// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./GmxV2DataStore.sol";
import "./GmxV2Keys.sol";
import "./GmxV2Types.sol";

/// @title Positions and markets kept in the DataStore, as `PositionStoreUtils` and
///        `MarketStoreUtils` keep them: one value per keccak256(abi.encode(itemKey, FIELD)).
library GmxV2Store {
    bytes32 private constant ACCOUNT = keccak256(abi.encode("ACCOUNT"));
    bytes32 private constant MARKET = keccak256(abi.encode("MARKET"));
    bytes32 private constant COLLATERAL_TOKEN = keccak256(abi.encode("COLLATERAL_TOKEN"));
    bytes32 private constant SIZE_IN_USD = keccak256(abi.encode("SIZE_IN_USD"));
    bytes32 private constant SIZE_IN_TOKENS = keccak256(abi.encode("SIZE_IN_TOKENS"));
    bytes32 private constant COLLATERAL_AMOUNT = keccak256(abi.encode("COLLATERAL_AMOUNT"));
    bytes32 private constant PENDING_IMPACT_AMOUNT = keccak256(abi.encode("PENDING_IMPACT_AMOUNT"));
    bytes32 private constant BORROWING_FACTOR = keccak256(abi.encode("BORROWING_FACTOR"));
    bytes32 private constant FUNDING_FEE_AMOUNT_PER_SIZE =
        keccak256(abi.encode("FUNDING_FEE_AMOUNT_PER_SIZE"));
    bytes32 private constant LONG_TOKEN_CLAIMABLE_FUNDING_AMOUNT_PER_SIZE =
        keccak256(abi.encode("LONG_TOKEN_CLAIMABLE_FUNDING_AMOUNT_PER_SIZE"));
    bytes32 private constant SHORT_TOKEN_CLAIMABLE_FUNDING_AMOUNT_PER_SIZE =
        keccak256(abi.encode("SHORT_TOKEN_CLAIMABLE_FUNDING_AMOUNT_PER_SIZE"));
    bytes32 private constant INCREASED_AT_TIME = keccak256(abi.encode("INCREASED_AT_TIME"));
    bytes32 private constant DECREASED_AT_TIME = keccak256(abi.encode("DECREASED_AT_TIME"));
    bytes32 private constant IS_LONG = keccak256(abi.encode("IS_LONG"));
    bytes32 private constant MARKET_TOKEN = keccak256(abi.encode("MARKET_TOKEN"));
    bytes32 private constant INDEX_TOKEN = keccak256(abi.encode("INDEX_TOKEN"));
    bytes32 private constant LONG_TOKEN = keccak256(abi.encode("LONG_TOKEN"));
    bytes32 private constant SHORT_TOKEN = keccak256(abi.encode("SHORT_TOKEN"));

    function _k(bytes32 item, bytes32 field) private pure returns (bytes32) {
        return keccak256(abi.encode(item, field));
    }

    function getPosition(GmxV2DataStore ds, bytes32 key)
        internal
        view
        returns (GmxV2Position.Props memory p)
    {
        p.addresses.account = ds.getAddress(_k(key, ACCOUNT));
        p.addresses.market = ds.getAddress(_k(key, MARKET));
        p.addresses.collateralToken = ds.getAddress(_k(key, COLLATERAL_TOKEN));
        p.numbers.sizeInUsd = ds.getUint(_k(key, SIZE_IN_USD));
        p.numbers.sizeInTokens = ds.getUint(_k(key, SIZE_IN_TOKENS));
        p.numbers.collateralAmount = ds.getUint(_k(key, COLLATERAL_AMOUNT));
        p.numbers.pendingImpactAmount = ds.getInt(_k(key, PENDING_IMPACT_AMOUNT));
        p.numbers.borrowingFactor = ds.getUint(_k(key, BORROWING_FACTOR));
        p.numbers.fundingFeeAmountPerSize = ds.getUint(_k(key, FUNDING_FEE_AMOUNT_PER_SIZE));
        p.numbers.longTokenClaimableFundingAmountPerSize =
            ds.getUint(_k(key, LONG_TOKEN_CLAIMABLE_FUNDING_AMOUNT_PER_SIZE));
        p.numbers.shortTokenClaimableFundingAmountPerSize =
            ds.getUint(_k(key, SHORT_TOKEN_CLAIMABLE_FUNDING_AMOUNT_PER_SIZE));
        p.numbers.increasedAtTime = ds.getUint(_k(key, INCREASED_AT_TIME));
        p.numbers.decreasedAtTime = ds.getUint(_k(key, DECREASED_AT_TIME));
        p.flags.isLong = ds.getBool(_k(key, IS_LONG));
    }

    function setPosition(GmxV2DataStore ds, bytes32 key, GmxV2Position.Props memory p) internal {
        ds.addBytes32(GmxV2Keys.POSITION_LIST, key);
        ds.addBytes32(GmxV2Keys.accountPositionListKey(p.addresses.account), key);
        ds.setAddress(_k(key, ACCOUNT), p.addresses.account);
        ds.setAddress(_k(key, MARKET), p.addresses.market);
        ds.setAddress(_k(key, COLLATERAL_TOKEN), p.addresses.collateralToken);
        ds.setUint(_k(key, SIZE_IN_USD), p.numbers.sizeInUsd);
        ds.setUint(_k(key, SIZE_IN_TOKENS), p.numbers.sizeInTokens);
        ds.setUint(_k(key, COLLATERAL_AMOUNT), p.numbers.collateralAmount);
        ds.setInt(_k(key, PENDING_IMPACT_AMOUNT), p.numbers.pendingImpactAmount);
        ds.setUint(_k(key, BORROWING_FACTOR), p.numbers.borrowingFactor);
        ds.setUint(_k(key, FUNDING_FEE_AMOUNT_PER_SIZE), p.numbers.fundingFeeAmountPerSize);
        ds.setUint(_k(key, INCREASED_AT_TIME), p.numbers.increasedAtTime);
        ds.setUint(_k(key, DECREASED_AT_TIME), p.numbers.decreasedAtTime);
        ds.setBool(_k(key, IS_LONG), p.flags.isLong);
    }

    /// @dev Leaves the lists; the field values stay behind but nothing lists the key any more.
    function removePosition(GmxV2DataStore ds, bytes32 key, address account) internal {
        ds.removeBytes32(GmxV2Keys.POSITION_LIST, key);
        ds.removeBytes32(GmxV2Keys.accountPositionListKey(account), key);
        ds.setUint(_k(key, SIZE_IN_USD), 0);
        ds.setUint(_k(key, SIZE_IN_TOKENS), 0);
        ds.setUint(_k(key, COLLATERAL_AMOUNT), 0);
    }

    function getMarket(GmxV2DataStore ds, address key)
        internal
        view
        returns (GmxV2Market.Props memory m)
    {
        bytes32 item = bytes32(uint256(uint160(key)));
        m.marketToken = ds.getAddress(_k(item, MARKET_TOKEN));
        m.indexToken = ds.getAddress(_k(item, INDEX_TOKEN));
        m.longToken = ds.getAddress(_k(item, LONG_TOKEN));
        m.shortToken = ds.getAddress(_k(item, SHORT_TOKEN));
    }

    function setMarket(GmxV2DataStore ds, GmxV2Market.Props memory m) internal {
        bytes32 item = bytes32(uint256(uint160(m.marketToken)));
        ds.addBytes32(GmxV2Keys.MARKET_LIST, item);
        ds.setAddress(_k(item, MARKET_TOKEN), m.marketToken);
        ds.setAddress(_k(item, INDEX_TOKEN), m.indexToken);
        ds.setAddress(_k(item, LONG_TOKEN), m.longToken);
        ds.setAddress(_k(item, SHORT_TOKEN), m.shortToken);
    }
}
