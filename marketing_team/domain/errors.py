"""The one exception tree: control flow, misuse and run failures, translated only at the edges."""

from __future__ import annotations

from decimal import Decimal


class MarketingTeamError(Exception):
    """Base of every error this package raises on purpose."""

    exit_code = 1


# --- misuse: the user or the configuration is wrong --------------------------------------------
class ConfigurationError(MarketingTeamError):
    """A setting, catalog entry or price table is wrong; fix the configuration and retry."""

    exit_code = 2


class CatalogMismatchError(ConfigurationError):
    """A worker's catalog is not the one a goal was planned with; it refuses the goal's tasks."""


class InputError(MarketingTeamError):
    """A command or request carried bad input (empty goal text, unknown template, bad JSON)."""

    exit_code = 2


class NotFoundError(InputError):
    """A goal, review item, skill or template id that does not exist."""


class AlreadyExistsError(InputError):
    """A goal (or other record) with this id was saved already."""


class CorruptFileError(MarketingTeamError):
    """A workspace file exists but cannot be parsed; the message names the file."""


class CorruptStateError(MarketingTeamError):
    """A record in the store cannot be parsed; the message names its key."""


class IllegalTransitionError(MarketingTeamError):
    """A task or goal status change that the state machine forbids."""


# --- infrastructure ---------------------------------------------------------------------------
class BrokerUnavailableError(MarketingTeamError):
    """Redis cannot be reached; the message names the (masked) URL."""

    exit_code = 3


class StoreRefusedWritesError(BrokerUnavailableError):
    """Redis answers but refuses writes (MISCONF: disk, OOM: maxmemory, READONLY: a replica); the
    message names the (masked) server and the cause."""


class LockTimeoutError(MarketingTeamError):
    """A lock could not be taken in time, or a record kept changing under a compare-and-set."""


# --- run failures -------------------------------------------------------------------------------
class LLMError(MarketingTeamError):
    """A model call failed after the SDK's own bounded retries."""

    transient = False
    falls_back = True  # a rule-based answer (plan, structural review) may stand in for it


class LLMTransientError(LLMError):
    """Rate limit, overload, connection or timeout: worth a whole-task retry."""

    transient = True


class LLMTimeoutError(LLMTransientError):
    """The model did not answer within the per-call timeout."""


class StructuredOutputError(LLMError):
    """The model's reply failed schema validation after the bounded re-prompts."""


class ProviderBillingError(LLMError):
    """A reply whose reported usage cannot be true (negative, missing, beyond what the request
    allows): its request's bound was recorded, and the goal stops rather than trust the provider."""

    falls_back = False
    # What the call recorded in the ledger (the bound and any requests it paid before), each
    # reply by its settled identity: the goal's cost counts each once, as for a call that succeeded.
    charges: tuple[tuple[str, Decimal], ...] = ()


class BudgetError(MarketingTeamError):
    """Spending is not allowed now; the task is deferred or the goal stops."""


class BudgetDeferred(BudgetError):
    """The budget level does not allow this priority now; retry later."""


class BudgetExhausted(BudgetError):
    """The monthly or per-goal budget is spent."""


class DispatchRefusedError(MarketingTeamError):
    """Health says work of this priority must not be dispatched now (the message says why)."""

    exit_code = 4


class SkillFailedError(MarketingTeamError):
    """A skill run failed for a permanent reason."""


__all__ = [
    "BrokerUnavailableError",
    "BudgetDeferred",
    "BudgetError",
    "BudgetExhausted",
    "CatalogMismatchError",
    "ConfigurationError",
    "CorruptFileError",
    "CorruptStateError",
    "DispatchRefusedError",
    "IllegalTransitionError",
    "InputError",
    "LLMError",
    "LLMTimeoutError",
    "LLMTransientError",
    "LockTimeoutError",
    "MarketingTeamError",
    "NotFoundError",
    "SkillFailedError",
    "StoreRefusedWritesError",
    "StructuredOutputError",
]
