// @gainsnetwork/sdk's own liquidation math on trades given in the diamond's raw units.
//
//   node tests/vendor/gtrade_liq.js < trades.json > results.json
//
// Input: a JSON array of trades, every number a decimal string of the on-chain integer:
//   long, open_price_e10, collateral_raw, decimals, leverage_e3,
//   params: [maxLiqSpreadP, startLiqThresholdP, endLiqThresholdP, startLeverage, endLeverage],
//   fee_p (totalPositionSizeFeeP), min_usd_e3 (fee group minPositionSizeUsd),
//   collateral_price_e8, holding_raw, realized_pnl_raw, realized_fees_raw,
//   pair_spread_p, fixed_spread_p, version (TradeInfo.contractsVersion),
//   closing_fee_raw (the closing fee perpwatch computed, for the "given fee" runs),
//   counter_multiplier_e3 (a counter trade's fee-rate multiplier; 1000 = not a counter trade).
// Output: a JSON array, per trade (prices in USD, fees in collateral tokens):
//   sdk:       getLiquidationPrice, params through the SDK's convertLiquidationParams and the
//              SDK computing the closing fee itself (its full pipeline);
//   direct:    the same with the five params converted without convertLiquidationParams'
//              substitution of 90 % for a zero threshold;
//   given_fee: `direct` with the SDK's closing fee replaced by perpwatch's integer one
//              (fee rate 0, the fee passed as additionalFeeCollateral);
//   threshold: getLiqPnlThresholdP on the direct params (a fraction);
//   fee:       getTotalTradeFeesCollateral (no fee tiers, as getLiquidationPrice calls it).
//
// Units handed to the SDK: collateral in tokens (raw / 10^decimals), leverage raw / 1e3, prices
// raw / 1e10, and every percentage as a fraction (raw / 1e12): getLiquidationPrice subtracts
// openPrice * spread, and convertLiquidationParams gives maxLiqSpreadP as a fraction, so pair
// and fixed spreads are passed as fractions too. Holding fees are on-chain reads in perpwatch
// (getTradePendingHoldingFeesCollateral), so no borrowing/funding context is given and the
// holding fee enters through additionalFeeCollateral, which getLiquidationPrice adds to the
// fees exactly as it adds holding fees (partialCloseMultiplier 1).
"use strict";
const sdk = require("@gainsnetwork/sdk");

const num = (s) => Number(s);
const fraction = (s) => Number(s) / 1e12;

function directParams(p) {
  return {
    maxLiqSpreadP: fraction(p[0]),
    startLiqThresholdP: fraction(p[1]),
    endLiqThresholdP: fraction(p[2]),
    startLeverage: num(p[3]) / 1e3,
    endLeverage: num(p[4]) / 1e3,
  };
}

function convertedParams(p) {
  return sdk.convertLiquidationParams({
    maxLiqSpreadP: BigInt(p[0]),
    startLiqThresholdP: BigInt(p[1]),
    endLiqThresholdP: BigInt(p[2]),
    startLeverage: BigInt(p[3]),
    endLeverage: BigInt(p[4]),
  });
}

function run(t) {
  const scale = 10 ** num(t.decimals);
  const tokens = (s) => num(s) / scale;
  const trade = {
    user: "0x0000000000000000000000000000000000000001",
    index: 0,
    pairIndex: 0,
    collateralIndex: 1,
    long: t.long,
    isOpen: true,
    tradeType: 0,
    collateralAmount: tokens(t.collateral_raw),
    leverage: num(t.leverage_e3) / 1e3,
    openPrice: num(t.open_price_e10) / 1e10,
    tp: 0,
    sl: 0,
    isCounterTrade: num(t.counter_multiplier_e3) !== 1000,
  };
  const counterTradeSettings = { 0: { feeRateMultiplier: num(t.counter_multiplier_e3) / 1e3, maxLeverage: 1000 } };
  const collateralPriceUsd = num(t.collateral_price_e8) / 1e8;
  const version = num(t.version);
  const fee = { totalPositionSizeFeeP: fraction(t.fee_p), minPositionSizeUsd: num(t.min_usd_e3) / 1e3 };
  const globalTradeFeeParams = { referralFeeP: 0, govFeeP: 0, triggerOrderFeeP: 0, gnsOtcFeeP: 0, gTokenFeeP: 0 };
  const context = (params, feeGroup, additional) => ({
    core: {
      currentBlock: 0,
      currentTimestamp: 0,
      collateralPriceUsd,
      contractsVersion: version,
      spreadP: fraction(t.pair_spread_p),
    },
    trading: { fee: feeGroup, globalTradeFeeParams, traderFeeMultiplier: 1, counterTradeSettings },
    tradeData: {
      tradeInfo: { contractsVersion: version },
      tradeFeesData: {
        realizedPnlCollateral: tokens(t.realized_pnl_raw),
        realizedTradingFeesCollateral: tokens(t.realized_fees_raw),
      },
      liquidationParams: params,
    },
    liquidationSpecific: {
      currentPairPrice: trade.openPrice,
      additionalFeeCollateral: additional,
      partialCloseMultiplier: 1,
      beforeOpened: false,
      isCounterTrade: trade.isCounterTrade,
      userPriceImpact: { fixedSpreadP: fraction(t.fixed_spread_p) },
    },
  });
  const holding = tokens(t.holding_raw);
  const direct = directParams(t.params);
  const noFee = { totalPositionSizeFeeP: 0, minPositionSizeUsd: 0 };
  return {
    sdk: sdk.getLiquidationPrice(trade, context(convertedParams(t.params), fee, holding)),
    direct: sdk.getLiquidationPrice(trade, context(direct, fee, holding)),
    given_fee: sdk.getLiquidationPrice(
      trade,
      context(direct, noFee, holding + tokens(t.closing_fee_raw)),
    ),
    threshold: sdk.getLiqPnlThresholdP(direct, trade.leverage),
    fee: sdk.getTotalTradeFeesCollateral(
      1,
      "",
      0,
      trade.collateralAmount * trade.leverage,
      trade.isCounterTrade,
      { fee, collateralPriceUsd, globalTradeFeeParams, traderFeeMultiplier: 1, counterTradeSettings },
    ),
  };
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const out = JSON.parse(input).map(run);
  // NaN (the SDK's 0/0 at startLeverage == endLeverage) is not JSON: send it as null.
  process.stdout.write(JSON.stringify(out, (k, v) => (Number.isNaN(v) ? null : v)) + "\n");
});
