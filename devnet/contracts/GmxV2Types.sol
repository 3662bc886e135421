// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title GMX v2 structs in the deployed (v2.2) ABI layout.
/// @notice Field order and types match gmx-synthetics `Position.sol`, `Market.sol`, `Price.sol`
///         and `MarketUtils.MarketPrices`: the ABI encoding is what readers decode, so it must
///         be identical, names included for clarity.
library GmxV2Position {
    struct Addresses {
        address account;
        address market;
        address collateralToken;
    }

    /// @dev v2.2: `pendingImpactAmount` (int256, index-token units) is the 4th number.
    struct Numbers {
        uint256 sizeInUsd;
        uint256 sizeInTokens;
        uint256 collateralAmount;
        int256 pendingImpactAmount;
        uint256 borrowingFactor;
        uint256 fundingFeeAmountPerSize;
        uint256 longTokenClaimableFundingAmountPerSize;
        uint256 shortTokenClaimableFundingAmountPerSize;
        uint256 increasedAtTime;
        uint256 decreasedAtTime;
    }

    struct Flags {
        bool isLong;
    }

    struct Props {
        Addresses addresses;
        Numbers numbers;
        Flags flags;
    }

    /// @notice `Position.getPositionKey`: one position per (account, market, collateral, side).
    function key(address account, address market, address collateralToken, bool isLong)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(account, market, collateralToken, isLong));
    }
}

library GmxV2Market {
    struct Props {
        address marketToken;
        address indexToken;
        address longToken;
        address shortToken;
    }
}

library GmxV2Price {
    /// @dev USD per smallest token unit, times 1e30.
    struct Props {
        uint256 min;
        uint256 max;
    }

    struct MarketPrices {
        Props indexTokenPrice;
        Props longTokenPrice;
        Props shortTokenPrice;
    }
}

/// @notice `PositionUtils.IsPositionLiquidatableInfo`: USD values times 1e30.
library GmxV2Liquidation {
    struct Info {
        int256 remainingCollateralUsd;
        int256 minCollateralUsd;
        int256 minCollateralUsdForLeverage;
    }
}
