"""The examples in fastloss's docstrings run and print what they say."""

import doctest

import pytest

import fastloss
import fastloss.binary
import fastloss.losses
import fastloss.classifier
import fastloss.linear
import fastloss.optim


@pytest.mark.parametrize("module", [fastloss, fastloss.losses, fastloss.binary, fastloss.optim, fastloss.linear, fastloss.classifier], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} docstring example(s) of {module.__name__} failed (see stdout)"
