// Print the GNSMultiCollatDiamond ABI subset perpwatch ships in contracts_abi/gtrade/:
// every event and every view/pure function of the @gainsnetwork/sdk typechain factory, entries
// unchanged, in the factory's order, as JSON (2-space indent, trailing newline).
//
//   node tests/vendor/gtrade_abi.js > contracts_abi/gtrade/GNSMultiCollatDiamond.json
"use strict";
const {
  GNSMultiCollatDiamond__factory: factory,
} = require("@gainsnetwork/sdk/lib/contracts/types/generated/factories/GNSMultiCollatDiamond__factory.js");

const kept = factory.abi.filter(
  (e) =>
    e.type === "event" ||
    (e.type === "function" && (e.stateMutability === "view" || e.stateMutability === "pure")),
);
process.stdout.write(JSON.stringify(kept, null, 2) + "\n");
