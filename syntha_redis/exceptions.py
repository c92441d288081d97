"""The errors syntha_redis raises.

Every error is data: a message saying what was wrong, a machine-readable
``error_code``, a ``context`` dict and ``suggestions`` saying what to do.
Constructors keep Syntha's signatures, so ``except SynthaError`` code and
``e.suggestion`` work unchanged.

    SynthaError
    ├── SynthaConfigurationError   bad settings, unknown keyword, bad URL     (+ ValueError)
    ├── SynthaConnectionError      Redis or Postgres unreachable
    ├── SynthaValidationError      bad key, value, name, TTL, tool argument   (+ ValueError)
    │   └── SynthaQuotaError       a per-user limit (items, bytes) is reached
    ├── SynthaPermissionError      an agent may not post to a topic / use a tool
    ├── SynthaContextError         a mesh operation failed for another reason
    │   └── SynthaConflictError    compare-and-set found another version
    ├── SynthaPersistenceError     the store answered with an error
    ├── SynthaToolError            a tool call failed
    ├── SynthaSecurityError        a cross-user or injection attempt
    ├── SynthaPerformanceError     an operation exceeded its budget
    ├── SynthaTimeoutError         an operation timed out
    └── SynthaFrameworkError       a framework adapter failed

The two marked ``+ ValueError`` are also ``ValueError``s: Syntha raises plain
``ValueError`` for bad input and configuration, so code that catches it keeps
catching ours after the import swap.

Warnings: ``SynthaTruncationWarning`` (a ``UserWarning``), when a read of an
agent's visible items returns fewer than are visible (``max_visible_items``).
"""

from __future__ import annotations

import functools
import inspect
import logging
import traceback
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

__all__ = [
    "SynthaError",
    "SynthaConfigurationError",
    "SynthaConnectionError",
    "SynthaValidationError",
    "SynthaQuotaError",
    "SynthaPermissionError",
    "SynthaContextError",
    "SynthaConflictError",
    "SynthaPersistenceError",
    "SynthaToolError",
    "SynthaSecurityError",
    "SynthaPerformanceError",
    "SynthaTimeoutError",
    "SynthaFrameworkError",
    "ErrorHandler",
    "handle_syntha_error",
    "typed_arguments",
    "SynthaTruncationWarning",
]


class SynthaError(Exception):
    """Base class of every syntha_redis error."""

    def __init__(
        self,
        message: str,
        error_code: str | None = None,
        context: dict[str, Any] | None = None,
        cause: BaseException | None = None,
        suggestions: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code or type(self).__name__
        self.context: dict[str, Any] = dict(context or {})
        self.cause = cause
        self.suggestions: list[str] = list(suggestions or [])
        self.timestamp = datetime.now().isoformat()

    @property
    def suggestion(self) -> str | None:
        """The first (most specific) suggestion, or None."""
        return self.suggestions[0] if self.suggestions else None

    def __str__(self) -> str:
        parts = [f"[{self.error_code}] {self.message}"]
        if self.context:
            parts.append(f"Context: {self.context}")
        if self.cause:
            parts.append(f"Caused by: {self.cause}")
        if self.suggestions:
            parts.append(f"Suggestions: {', '.join(self.suggestions)}")
        return "\n".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "error_type": type(self).__name__,
            "message": self.message,
            "error_code": self.error_code,
            "context": self.context,
            "cause": str(self.cause) if self.cause else None,
            "suggestions": self.suggestions,
            "suggestion": self.suggestion,
            "timestamp": self.timestamp,
            "traceback": traceback.format_exc(),
        }


def _note(error: SynthaError, **fields: Any) -> None:
    """Copy the non-None typed fields into ``error.context``."""
    for name, value in fields.items():
        if value is not None:
            error.context[name] = value


class SynthaConfigurationError(SynthaError, ValueError):
    def __init__(self, message: str, config_key: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.config_key = config_key
        _note(self, config_key=config_key)


class SynthaConnectionError(SynthaError):
    def __init__(self, message: str, service: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.service = service
        _note(self, service=service)


class SynthaValidationError(SynthaError, ValueError):
    def __init__(
        self, message: str, field: str | None = None, value: Any = None, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.field = field
        self.value = value
        _note(self, field=field)


class SynthaQuotaError(SynthaValidationError):
    """A per-user limit would be exceeded; nothing was written."""


class SynthaPermissionError(SynthaError):
    def __init__(
        self,
        message: str,
        agent: str | None = None,
        resource: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.agent = agent
        self.resource = resource
        _note(self, agent=agent, resource=resource)


class SynthaContextError(SynthaError):
    def __init__(
        self,
        message: str,
        key: str | None = None,
        operation: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.key = key
        self.operation = operation
        _note(self, key=key, operation=operation)


class SynthaConflictError(SynthaContextError):
    """Compare-and-set lost: the item is at ``current_version``, not the expected one."""

    def __init__(
        self,
        message: str,
        key: str | None = None,
        expected_version: int | None = None,
        current_version: int | None = None,
        current_value: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, key=key, operation="push", **kwargs)
        self.expected_version = expected_version
        self.current_version = current_version
        self.current_value = current_value
        _note(self, expected_version=expected_version, current_version=current_version)


class SynthaPersistenceError(SynthaError):
    def __init__(
        self,
        message: str,
        backend: str | None = None,
        operation: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.backend = backend
        self.operation = operation
        _note(self, backend=backend, operation=operation)


class SynthaToolError(SynthaError):
    def __init__(
        self, message: str, tool: str | None = None, agent: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.tool = tool
        self.agent = agent
        _note(self, tool=tool, agent=agent)


class SynthaSecurityError(SynthaError):
    def __init__(self, message: str, security_event: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.security_event = security_event
        _note(self, security_event=security_event)


class SynthaPerformanceError(SynthaError):
    def __init__(
        self,
        message: str,
        operation: str | None = None,
        duration: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.operation = operation
        self.duration = duration
        _note(self, operation=operation, duration=duration)


class SynthaTimeoutError(SynthaError):
    def __init__(
        self,
        message: str,
        timeout: float | None = None,
        operation: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.timeout = timeout
        self.operation = operation
        _note(self, timeout=timeout, operation=operation)


class SynthaFrameworkError(SynthaError):
    def __init__(
        self,
        message: str,
        framework: str | None = None,
        tool_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.framework = framework
        self.tool_name = tool_name
        _note(self, framework=framework, tool_name=tool_name)
        if framework and not self.suggestions:
            # Syntha's generic advice, when the raiser gave none more specific
            self.suggestions = [
                f"Check if {framework} is properly installed",
                f"Verify {framework} version compatibility",
                "Review framework documentation",
                "Check for missing dependencies",
            ]


class ErrorHandler:
    """Turns any exception into the matching ``SynthaError`` (Syntha's helper).

    Unlike Syntha, which guesses from words in the message, this maps by
    exception type: builtin connection/timeout/permission/value errors.
    """

    _BY_TYPE: tuple[tuple[type[BaseException], type[SynthaError]], ...] = (
        (ConnectionError, SynthaConnectionError),
        (TimeoutError, SynthaTimeoutError),
        (PermissionError, SynthaPermissionError),
        (ValueError, SynthaValidationError),
        (TypeError, SynthaValidationError),
    )

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger

    def handle_error(
        self, error: BaseException, context: dict[str, Any] | None = None
    ) -> SynthaError:
        if self.logger:
            self.logger.error("Error occurred: %s", error, extra={"error_context": context})
        if isinstance(error, SynthaError):
            return error
        for source, target in self._BY_TYPE:
            if isinstance(error, source):
                return target(str(error), context=context, cause=error)
        return SynthaError(f"Unexpected error: {error}", context=context, cause=error)

    def wrap_function(
        self, func: Callable[..., Any], context: dict[str, Any] | None = None
    ) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except Exception as e:
                raise self.handle_error(e, context) from e

        return wrapper


F = TypeVar("F", bound=Callable[..., Any])


def handle_syntha_error(func: F) -> F:
    """Decorator: any exception from ``func`` is re-raised as a ``SynthaError``."""
    return ErrorHandler().wrap_function(func)  # type: ignore[return-value]


def _plain(signature: inspect.Signature) -> str:
    """``(key, value, ttl=None, *, agent_name=None)``: no self, no annotations."""
    empty = inspect.Parameter.empty
    return str(
        signature.replace(
            parameters=[
                p.replace(annotation=empty) for p in signature.parameters.values()
                if p.name != "self"
            ],
            return_annotation=empty,
        )
    )


def _argument_error(method: Callable[..., Any], args: Any, kwargs: Any) -> SynthaError | None:
    """The SynthaValidationError for arguments ``method``'s signature refuses, or None."""
    signature = inspect.signature(method)
    try:
        signature.bind(*args, **kwargs)
    except TypeError as e:
        name = method.__name__
        unknown = [k for k in kwargs if k not in signature.parameters]
        problem = (  # the unknown name is the mistake; a missing argument may follow from it
            f"got an unexpected keyword argument {', '.join(map(repr, unknown))}"
            if unknown else str(e)
        )
        shown = problem.encode("utf-8", "backslashreplace").decode()
        return SynthaValidationError(
            f"{name}(): {shown}",
            field="arguments",
            suggestions=[f"Call {name}{_plain(signature)}"],
        )
    return None


def typed_arguments(method: F) -> F:
    """Arguments that ``method``'s signature refuses (``push(foo=1)``) raise
    SynthaValidationError instead of Python's TypeError. Costs nothing on a good
    call: the signature is consulted only after a TypeError."""
    if inspect.iscoroutinefunction(method):

        @functools.wraps(method)
        async def awaited(*args: Any, **kwargs: Any) -> Any:
            try:
                coroutine = method(*args, **kwargs)
            except TypeError:
                error = _argument_error(method, args, kwargs)
                if error is None:
                    raise
                raise error from None
            return await coroutine

        return awaited  # type: ignore[return-value]

    @functools.wraps(method)
    def called(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except TypeError:
            error = _argument_error(method, args, kwargs)
            if error is None:
                raise
            raise error from None

    return called  # type: ignore[return-value]


C = TypeVar("C", bound=type)


def typed_public_methods(cls: C) -> C:
    """``typed_arguments`` on every public method ``cls`` defines: a wrong call of
    any of them (``get(foo=1)``) is a SynthaValidationError, never a TypeError."""
    for name, attr in list(vars(cls).items()):
        if not name.startswith("_") and inspect.isfunction(attr):
            setattr(cls, name, typed_arguments(attr))
    return cls


class SynthaTruncationWarning(UserWarning):
    """A read returned fewer items than are visible (``max_visible_items``)."""
