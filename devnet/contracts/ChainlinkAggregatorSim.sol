// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title Chainlink AggregatorV3-compatible price feed for the perpwatch devnet.
/// @notice Same selectors and events as a Chainlink aggregator behind its proxy:
///         `latestRoundData`, `getRoundData`, `decimals`, `description`, and the
///         `AnswerUpdated`/`NewRound` events. `setAnswer` and `setRoundData` are devnet-only:
///         tests move prices and back-date `updatedAt` with them.
contract ChainlinkAggregatorSim {
    struct Round {
        int256 answer;
        uint256 startedAt;
        uint256 updatedAt;
    }

    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);
    event NewRound(uint256 indexed roundId, address indexed startedBy, uint256 startedAt);

    error NoDataPresent();

    uint8 public immutable decimals;
    string public description;
    uint80 public latestRound;
    mapping(uint80 => Round) private rounds;

    constructor(uint8 decimals_, string memory description_, int256 initialAnswer) {
        decimals = decimals_;
        description = description_;
        setAnswer(initialAnswer);
    }

    /// @notice Start a new round with `answer` (feed units, `decimals` digits), updated now.
    function setAnswer(int256 answer) public {
        setRoundData(answer, block.timestamp);
    }

    /// @notice Start a new round with `answer` and an explicit `updatedAt` (Unix seconds).
    function setRoundData(int256 answer, uint256 updatedAt) public {
        uint80 roundId = latestRound + 1;
        latestRound = roundId;
        rounds[roundId] = Round(answer, updatedAt, updatedAt);
        emit NewRound(roundId, msg.sender, updatedAt);
        emit AnswerUpdated(answer, roundId, updatedAt);
    }

    function latestRoundData()
        external
        view
        returns (uint80, int256, uint256, uint256, uint80)
    {
        return getRoundData(latestRound);
    }

    function getRoundData(uint80 roundId)
        public
        view
        returns (uint80, int256, uint256, uint256, uint80)
    {
        Round memory round = rounds[roundId];
        if (round.updatedAt == 0) revert NoDataPresent();
        return (roundId, round.answer, round.startedAt, round.updatedAt, roundId);
    }

    function version() external pure returns (uint256) {
        return 4;
    }
}
