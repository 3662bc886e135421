// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title GMX v2 DataStore keys, derived exactly as gmx-synthetics `data/Keys.sol`.
/// @notice A base key is keccak256(abi.encode(NAME)); per-account/market keys hash
///         abi.encode(BASE, args...).
library GmxV2Keys {
    bytes32 internal constant MARKET_LIST = keccak256(abi.encode("MARKET_LIST"));
    bytes32 internal constant POSITION_LIST = keccak256(abi.encode("POSITION_LIST"));
    bytes32 internal constant ACCOUNT_POSITION_LIST = keccak256(abi.encode("ACCOUNT_POSITION_LIST"));
    bytes32 internal constant MIN_COLLATERAL_USD = keccak256(abi.encode("MIN_COLLATERAL_USD"));
    bytes32 internal constant MIN_COLLATERAL_FACTOR = keccak256(abi.encode("MIN_COLLATERAL_FACTOR"));
    bytes32 internal constant MIN_COLLATERAL_FACTOR_FOR_LIQUIDATION =
        keccak256(abi.encode("MIN_COLLATERAL_FACTOR_FOR_LIQUIDATION"));
    bytes32 internal constant POSITION_FEE_FACTOR = keccak256(abi.encode("POSITION_FEE_FACTOR"));
    bytes32 internal constant CUMULATIVE_BORROWING_FACTOR =
        keccak256(abi.encode("CUMULATIVE_BORROWING_FACTOR"));
    bytes32 internal constant FUNDING_FEE_AMOUNT_PER_SIZE =
        keccak256(abi.encode("FUNDING_FEE_AMOUNT_PER_SIZE"));

    function accountPositionListKey(address account) internal pure returns (bytes32) {
        return keccak256(abi.encode(ACCOUNT_POSITION_LIST, account));
    }

    function minCollateralFactorKey(address market) internal pure returns (bytes32) {
        return keccak256(abi.encode(MIN_COLLATERAL_FACTOR, market));
    }

    function minCollateralFactorForLiquidationKey(address market) internal pure returns (bytes32) {
        return keccak256(abi.encode(MIN_COLLATERAL_FACTOR_FOR_LIQUIDATION, market));
    }

    function positionFeeFactorKey(address market, bool balanceWasImproved)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(POSITION_FEE_FACTOR, market, balanceWasImproved));
    }

    function cumulativeBorrowingFactorKey(address market, bool isLong)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(CUMULATIVE_BORROWING_FACTOR, market, isLong));
    }

    function fundingFeeAmountPerSizeKey(address market, address collateralToken, bool isLong)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(FUNDING_FEE_AMOUNT_PER_SIZE, market, collateralToken, isLong));
    }

    bytes32 internal constant OPEN_INTEREST = keccak256(abi.encode("OPEN_INTEREST"));
    bytes32 internal constant OPEN_INTEREST_IN_TOKENS = keccak256(abi.encode("OPEN_INTEREST_IN_TOKENS"));
    bytes32 internal constant POOL_AMOUNT = keccak256(abi.encode("POOL_AMOUNT"));
    bytes32 internal constant MAX_PNL_FACTOR = keccak256(abi.encode("MAX_PNL_FACTOR"));
    bytes32 internal constant MAX_PNL_FACTOR_FOR_TRADERS = keccak256(abi.encode("MAX_PNL_FACTOR_FOR_TRADERS"));
    bytes32 internal constant POSITION_IMPACT_FACTOR = keccak256(abi.encode("POSITION_IMPACT_FACTOR"));
    bytes32 internal constant POSITION_IMPACT_EXPONENT_FACTOR =
        keccak256(abi.encode("POSITION_IMPACT_EXPONENT_FACTOR"));
    bytes32 internal constant MAX_POSITION_IMPACT_FACTOR = keccak256(abi.encode("MAX_POSITION_IMPACT_FACTOR"));
    bytes32 internal constant MAX_POSITION_IMPACT_FACTOR_FOR_LIQUIDATIONS =
        keccak256(abi.encode("MAX_POSITION_IMPACT_FACTOR_FOR_LIQUIDATIONS"));
    bytes32 internal constant CUMULATIVE_BORROWING_FACTOR_UPDATED_AT =
        keccak256(abi.encode("CUMULATIVE_BORROWING_FACTOR_UPDATED_AT"));
    bytes32 internal constant BORROWING_FACTOR = keccak256(abi.encode("BORROWING_FACTOR"));
    bytes32 internal constant BORROWING_EXPONENT_FACTOR = keccak256(abi.encode("BORROWING_EXPONENT_FACTOR"));

    function openInterestKey(address market, address collateralToken, bool isLong, bool inTokens)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(
            abi.encode(inTokens ? OPEN_INTEREST_IN_TOKENS : OPEN_INTEREST, market, collateralToken, isLong)
        );
    }

    function poolAmountKey(address market, address token) internal pure returns (bytes32) {
        return keccak256(abi.encode(POOL_AMOUNT, market, token));
    }

    function maxPnlFactorForTradersKey(address market, bool isLong) internal pure returns (bytes32) {
        return keccak256(abi.encode(MAX_PNL_FACTOR, MAX_PNL_FACTOR_FOR_TRADERS, market, isLong));
    }

    function marketKey(bytes32 base, address market) internal pure returns (bytes32) {
        return keccak256(abi.encode(base, market));
    }

    /// @notice Per market and flag (isLong, isPositive): BORROWING_FACTOR, POSITION_IMPACT_FACTOR…
    function marketFlagKey(bytes32 base, address market, bool flag) internal pure returns (bytes32) {
        return keccak256(abi.encode(base, market, flag));
    }
}
