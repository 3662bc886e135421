"""Simulated HyperCore on a devnet: the read precompiles at their real HyperEVM addresses.

    hl = install_hyperliquid(anvil)                  # BTC (0), ETH (1), SOL (5) listed
    hl.set_mark("BTC", "100000"); hl.deposit(user, "20000")
    hl.open(user, "BTC", "1", leverage=40)           # cross long 1 BTC at the mark
    hl.is_liquidatable(user, "BTC")                  # the sim's own rule, for comparison

``HlCore`` (devnet/contracts/HlCore.sol) holds the state at a fixed address; each precompile
contract (HlPrecompiles.sol) answers raw ``abi.encode(args)`` calldata, as on HyperEVM, by
forwarding to it. Human amounts (prices, sizes, USD) are decimal strings or ``Decimal`` and
must convert exactly to HyperCore's integers, else ``ValueError``: prices to
USD·10^(6 - szDecimals), sizes to 10^-szDecimals of a coin, USD to USD·1e6.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction

from devnet.chain import Anvil
from devnet.deploy import call, connect, contract_at, transact
from devnet.solc import Artifact, compile_contracts

HL_CORE_ADDRESS = Web3.to_checksum_address("0x0000000000000000000000000000484c436f7265")
"""Where HlCore's runtime code goes (``HL_CORE`` in HlTypes.sol)."""

PRECOMPILES: Mapping[str, str] = {
    "HlPositionPrecompile": "0x0000000000000000000000000000000000000800",
    "HlWithdrawablePrecompile": "0x0000000000000000000000000000000000000803",
    "HlMarkPxPrecompile": "0x0000000000000000000000000000000000000806",
    "HlOraclePxPrecompile": "0x0000000000000000000000000000000000000807",
    "HlPerpAssetInfoPrecompile": "0x000000000000000000000000000000000000080a",
    "HlAccountMarginSummaryPrecompile": "0x000000000000000000000000000000000000080f",
    "HlPosition2Precompile": "0x0000000000000000000000000000000000000813",
}
"""Simulator contract → real precompile address (PROTOCOLS.md §3.1)."""

Amount = str | int | Decimal


@dataclass(frozen=True, slots=True)
class HlPerp:
    """A listed perp: ``index`` is its asset id (position in ``meta.universe``)."""

    index: int
    coin: str
    sz_decimals: int
    max_leverage: int
    only_isolated: bool = False


DEFAULT_PERPS: tuple[HlPerp, ...] = (
    HlPerp(0, "BTC", 5, 40),
    HlPerp(1, "ETH", 4, 25),
    HlPerp(5, "SOL", 2, 20),
)
"""Mainnet's asset ids, size decimals and max leverage for BTC, ETH and SOL."""


def to_int_exact(value: Amount, decimals: int, what: str) -> int:
    """``value · 10**decimals`` as an int.

    Raises:
        ValueError: the product is not an integer (the amount has too many decimals).
    """
    scaled = Decimal(value).scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{what} {value} has more than {decimals} decimals")
    return int(scaled)


class HlDeployment:
    """The simulated HyperCore on one anvil; methods send transactions from dev account 0."""

    def __init__(self, core: Contract, perps: Sequence[HlPerp]) -> None:
        self.core = core
        self.perps: dict[str, HlPerp] = {p.coin: p for p in perps}

    def perp(self, coin: str) -> HlPerp:
        """The listed perp called ``coin``; KeyError if none."""
        return self.perps[coin]

    def _tx(self, name: str, *args: Any) -> None:
        transact(self.core.functions[name](*args))

    def _view(self, name: str, *args: Any) -> Any:
        return call(self.core.functions[name](*args))

    # -- sim-only setters ---------------------------------------------------------------------

    def list_perp(self, perp: HlPerp) -> None:
        self._tx(
            "listPerp",
            perp.index,
            perp.coin,
            perp.sz_decimals,
            perp.max_leverage,
            perp.only_isolated,
        )
        self.perps[perp.coin] = perp

    def set_margin_tiers(self, coin: str, tiers: Sequence[tuple[int, int]]) -> None:
        """Give ``coin`` margin tiers: ``(lower bound in whole USD, max leverage)``, the first
        bound 0 (a Hyperliquid ``meta.marginTables`` entry)."""
        bounds, leverages = [b for b, _ in tiers], [lev for _, lev in tiers]
        self._tx("setMarginTiers", self.perp(coin).index, bounds, leverages)

    def set_prices_raw(self, coin: str, mark_px: int, oracle_px: int | None = None) -> None:
        """Mark (and oracle, default = mark) in USD·10^(6 - szDecimals)."""
        oracle = mark_px if oracle_px is None else oracle_px
        self._tx("setPrices", self.perp(coin).index, mark_px, oracle)

    def price_raw(self, coin: str, price_usd: Amount) -> int:
        """``price_usd`` in the perp's raw price unit (exact or ValueError)."""
        return to_int_exact(price_usd, 6 - self.perp(coin).sz_decimals, f"{coin} price")

    def set_mark(self, coin: str, mark_usd: Amount, oracle_usd: Amount | None = None) -> None:
        """Set mark and oracle prices (USD per coin; oracle defaults to the mark)."""
        transact(self.set_mark_call(coin, mark_usd, oracle_usd))

    def set_mark_call(
        self, coin: str, mark_usd: Amount, oracle_usd: Amount | None = None
    ) -> ContractFunction:
        """:meth:`set_mark` as a call not yet sent."""
        mark = self.price_raw(coin, mark_usd)
        oracle = mark if oracle_usd is None else self.price_raw(coin, oracle_usd)
        return self.core.functions.setPrices(self.perp(coin).index, mark, oracle)

    def deposit(self, user: str, usd: Amount) -> None:
        """Credit ``usd`` to ``user``'s cross balance."""
        transact(self.deposit_call(user, usd))

    def deposit_call(self, user: str, usd: Amount) -> ContractFunction:
        """:meth:`deposit` as a call not yet sent (for ``devnet.txbatch``)."""
        usd_e6 = to_int_exact(usd, 6, "USD")
        return self.core.functions.deposit(Web3.to_checksum_address(user), usd_e6)

    def trade(self, user: str, coin: str, size: Amount, leverage: int, isolated: bool) -> None:
        """Change ``user``'s position by signed ``size`` coins at the mark price."""
        transact(self.trade_call(user, coin, size, leverage, isolated))

    def trade_call(
        self, user: str, coin: str, size: Amount, leverage: int, isolated: bool
    ) -> ContractFunction:
        """:meth:`trade` as a call not yet sent (for ``devnet.txbatch``)."""
        perp = self.perp(coin)
        szi = to_int_exact(size, perp.sz_decimals, f"{coin} size")
        who = Web3.to_checksum_address(user)
        return self.core.functions.trade(who, perp.index, szi, leverage, isolated)

    def open(
        self, user: str, coin: str, size: Amount, *, leverage: int, isolated: bool = False
    ) -> None:
        """Open or increase a position (``size`` > 0 long, < 0 short); isolated margin is
        ``|size|·mark/leverage``, taken from the cross balance."""
        self.trade(user, coin, size, leverage, isolated)

    def close(self, user: str, coin: str) -> None:
        """Close the whole position at the mark price."""
        szi, _, _, leverage, isolated = self.position(user, coin)
        self._tx(
            "trade", Web3.to_checksum_address(user), self.perp(coin).index, -szi, leverage, isolated
        )

    def adjust_margin(self, user: str, coin: str, usd: Amount) -> None:
        """Add (or with a negative amount, remove) isolated margin, from/to the cross balance."""
        usd_e6 = to_int_exact(usd, 6, "USD")
        self._tx(
            "adjustIsolatedMargin", Web3.to_checksum_address(user), self.perp(coin).index, usd_e6
        )

    # -- liquidation --------------------------------------------------------------------------

    def is_liquidatable(self, user: str, coin: str) -> bool:
        """The sim's verdict: would ``liquidate(user, coin)`` succeed now?"""
        return bool(
            self._view("isLiquidatable", Web3.to_checksum_address(user), self.perp(coin).index)
        )

    def liquidate(self, user: str, coin: str, *, keeper: str | None = None) -> None:
        """Liquidate; raises ``TransactionReverted`` unless the position is liquidatable."""
        transact(self.liquidate_call(user, coin), sender=keeper)

    def liquidate_call(self, user: str, coin: str) -> ContractFunction:
        """:meth:`liquidate` as a call not yet sent."""
        return self.core.functions.liquidate(Web3.to_checksum_address(user), self.perp(coin).index)

    # -- raw reads (through HlCore's own ABI, for assertions) ----------------------------------

    def position(self, user: str, coin: str) -> tuple[int, int, int, int, bool]:
        """(szi, entryNtl, isolatedRawUsd, leverage, isIsolated), raw units."""
        raw = self._view("position", Web3.to_checksum_address(user), self.perp(coin).index)
        return (int(raw[0]), int(raw[1]), int(raw[2]), int(raw[3]), bool(raw[4]))

    def margin_summary(self, user: str) -> tuple[int, int, int, int]:
        """(accountValue, marginUsed, ntlPos, rawUsd) of the cross part, USD·1e6."""
        raw = self._view("accountMarginSummary", 0, Web3.to_checksum_address(user))
        return (int(raw[0]), int(raw[1]), int(raw[2]), int(raw[3]))


def install_hyperliquid(
    anvil: Anvil,
    artifacts: Mapping[str, Artifact] | None = None,
    perps: Sequence[HlPerp] = DEFAULT_PERPS,
) -> HlDeployment:
    """Install HlCore and the read precompiles on ``anvil`` and list ``perps`` (no prices yet).

    Runtime code only (anvil_setCode), so the addresses are the real ones on every devnet.

    Raises:
        RuntimeError: code read back from an address differs from what was installed.
        TransactionReverted: a perp could not be listed (already listed on this chain).
    """
    artifacts = artifacts if artifacts is not None else compile_contracts()
    targets = {"HlCore": HL_CORE_ADDRESS, **PRECOMPILES}
    for name, address in targets.items():
        code = artifacts[name].deployed_bytecode
        anvil.set_code(address, code)
        if anvil.request("eth_getCode", [address, "latest"]) != "0x" + code.hex():
            raise RuntimeError(f"{name} code at {address} did not stick")
    deployment = HlDeployment(contract_at(connect(anvil), artifacts["HlCore"], HL_CORE_ADDRESS), ())
    for perp in perps:
        deployment.list_perp(perp)
    return deployment
