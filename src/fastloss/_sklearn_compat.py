"""What makes :class:`fastloss.LinearClassifier` a scikit-learn estimator without importing it.

scikit-learn is optional: ``import fastloss`` never imports it.  This module
holds the pieces of the estimator protocol that must behave as
scikit-learn's do:

* :class:`NotFittedError` and :class:`DataConversionWarning`, fastloss's own
  classes; what :func:`not_fitted` and :func:`warn_data_conversion` raise or
  warn is chosen when it happens: when scikit-learn can be imported then, a
  class derived from both fastloss's and scikit-learn's, so that ``except
  fastloss.NotFittedError`` and ``except sklearn.exceptions.NotFittedError``
  both catch it (the derived classes are made once and are reachable by name
  in this module, so pickle finds them);
* the column names of DataFrames (``feature_names_in_``) and scikit-learn's
  rule, errors and warnings when they differ at predict time;
* :func:`sklearn_tags`, the estimator's tags (scikit-learn >= 1.6), and
  :class:`softmax_only`, a method that exists only for the softmax loss
  (scikit-learn's ``available_if``).
"""

from __future__ import annotations

import types
import warnings
from typing import Any, Callable

import numpy as np

__all__ = ["DataConversionWarning", "NotFittedError", "check_feature_names", "feature_names",
           "not_fitted", "sklearn_tags", "softmax_only", "warn_data_conversion"]


class NotFittedError(ValueError, AttributeError):
    """An estimator is used before ``fit``.

    A ValueError and an AttributeError, like scikit-learn's
    ``sklearn.exceptions.NotFittedError``; when scikit-learn is installed, the
    error raised is also an instance of scikit-learn's class.
    """


class DataConversionWarning(UserWarning):
    """Input was converted to the form the estimator needs (scikit-learn's too when installed)."""


# name in this module -> (fastloss base, scikit-learn class name)
_DERIVED = {
    "SklearnNotFittedError": (NotFittedError, "NotFittedError"),
    "SklearnDataConversionWarning": (DataConversionWarning, "DataConversionWarning"),
}


def _sklearn_class(name: str) -> type | None:
    """``sklearn.exceptions.<name>``, or None when scikit-learn cannot be imported."""
    try:
        from sklearn import exceptions
    except Exception:  # not installed, or an installation that fails to import
        return None
    return getattr(exceptions, name, None)


def _derived(local_name: str) -> type:
    """The class for ``local_name``: derived from scikit-learn's too when it is importable."""
    cls = globals().get(local_name)
    if cls is not None:
        return cls
    base, sk_name = _DERIVED[local_name]
    sk = _sklearn_class(sk_name)
    if sk is None:
        return base  # not cached: scikit-learn may become importable later
    cls = type(base.__name__, (base, sk), {
        "__module__": __name__,
        "__qualname__": local_name,
        "__doc__": f"fastloss's {base.__name__} that is also scikit-learn's.",
    })
    globals()[local_name] = cls
    return cls


def __getattr__(name: str) -> Any:
    # unpickling a derived class in a process that has not made it yet
    if name in _DERIVED:
        cls = _derived(name)
        if cls is not _DERIVED[name][0]:
            return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def not_fitted(estimator: object) -> NotFittedError:
    """The error to raise when ``estimator`` is used before it is fitted."""
    cls = _derived("SklearnNotFittedError")
    return cls(
        f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' (or "
        "'partial_fit') with appropriate arguments before using this estimator."
    )


def warn_data_conversion(message: str, stacklevel: int = 3) -> None:
    """Warn with DataConversionWarning (scikit-learn's class too when it is installed)."""
    warnings.warn(message, _derived("SklearnDataConversionWarning"), stacklevel=stacklevel)


# ---------------------------------------------------------------------------------------------
# Feature names (the columns of a DataFrame)


def feature_names(X: Any) -> np.ndarray | None:
    """The column names of a DataFrame-like ``X`` as an object array, or None.

    As in scikit-learn: names are kept only when every column name is a
    string; string names mixed with names of other types are a TypeError.
    """
    if isinstance(X, np.ndarray) or not hasattr(X, "columns") or not hasattr(X, "shape"):
        return None
    names = np.asarray(list(X.columns), dtype=object)
    if names.size == 0:
        return None
    types_ = sorted({type(n).__qualname__ for n in names})
    if len(types_) > 1 and "str" in types_:
        raise TypeError(
            "Feature names are only supported if all input features have string names, but "
            f"your input has {types_} as feature name / column name types. If you want feature "
            "names to be stored and validated, you must convert them all to strings, by using "
            "X.columns = X.columns.astype(str) for example. Otherwise you can remove feature / "
            "column names from your input data, or convert them all to a non-string data type."
        )
    return names if types_ == ["str"] else None


def check_feature_names(estimator: Any, X: Any) -> None:
    """Compare the column names of ``X`` with ``estimator.feature_names_in_``, as scikit-learn does.

    Names in another order, unseen or missing are a ValueError; names on one
    side only are a UserWarning.  (A wrong column count is found after this,
    by the n_features check.)
    """
    fitted = getattr(estimator, "feature_names_in_", None)
    names = feature_names(X)
    cls = type(estimator).__name__
    if fitted is None and names is None:
        return
    if fitted is None:
        warnings.warn(f"X has feature names, but {cls} was fitted without feature names",
                      UserWarning, stacklevel=3)
        return
    if names is None:
        warnings.warn(f"X does not have valid feature names, but {cls} was fitted with feature "
                      "names", UserWarning, stacklevel=3)
        return
    if len(fitted) == len(names) and (fitted == names).all():
        return
    message = "The feature names should match those that were passed during fit.\n"
    unexpected = sorted(set(names) - set(fitted))
    missing = sorted(set(fitted) - set(names))

    def listed(items: list[str]) -> str:
        shown = "".join(f"- {item}\n" for item in items[:5])
        return shown + ("- ...\n" if len(items) > 5 else "")

    if unexpected:
        message += "Feature names unseen at fit time:\n" + listed(unexpected)
    if missing:
        message += "Feature names seen at fit time, yet now missing:\n" + listed(missing)
    if not unexpected and not missing:
        message += "Feature names must be in the same order as they were in fit.\n"
    raise ValueError(message)


# ---------------------------------------------------------------------------------------------
# Tags and optional methods


def sklearn_tags(estimator: Any) -> Any:
    """scikit-learn's tags of the classifier (scikit-learn >= 1.6; imported only when it asks)."""
    from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags

    return Tags(
        estimator_type="classifier",
        target_tags=TargetTags(required=True),
        classifier_tags=ClassifierTags(multi_class=True, poor_score=False),
        input_tags=InputTags(two_d_array=True, allow_nan=False, sparse=True),
    )


class softmax_only:  # noqa: N801 (a decorator, named as one)
    """A method that exists only with ``loss="softmax"``: otherwise ``hasattr`` is False.

    As scikit-learn's ``available_if`` makes ``SGDClassifier.predict_proba``
    exist only for probabilistic losses, so that code that probes for it
    (``hasattr(clf, "predict_proba")``, scikit-learn's scorers) takes the
    scores instead.
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__

    def __get__(self, obj: Any, owner: type | None = None) -> Callable[..., Any]:
        if obj is None:
            return self.fn
        if obj.loss != "softmax":
            raise AttributeError(
                f"{self.__name__} is available only with loss='softmax' (this classifier has "
                f"loss={obj.loss!r}, which gives scores, not probabilities)"
            )
        return types.MethodType(self.fn, obj)
