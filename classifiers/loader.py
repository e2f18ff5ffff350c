"""Builds the configured classifier; a model that cannot load is a ``ConfigError`` naming it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from classifiers.base import Classifier
from monitor.errors import ConfigError

logger = logging.getLogger(__name__)

DEFAULT_MODEL = Path(__file__).resolve().parent / "models" / "default"


def load_classifier(settings: Any = None, tuning: Path | None = None, *, strict_tuning: bool = False) -> Classifier:
    """The model named by ``settings.model``, with the safeguarding rules unless ``rules = false``.

    ``settings`` is a ``monitor.config.ClassifierSettings`` (defaults when None). ``tuning`` is the
    school's tuning file written by ``monitor tune``; it is applied when it exists and was made for
    this model and version and is sound (see :func:`apply_tuning`, and ``strict_tuning``).
    """
    if settings is None:
        from monitor.config import ClassifierSettings

        settings = ClassifierSettings()
    model = load_model(
        settings.model,
        threshold=settings.threshold,
        label_map=dict(settings.label_map),
        max_chars=getattr(settings, "max_chars", 20_000),
    )
    if tuning is not None:
        apply_tuning(model, tuning, strict=strict_tuning)
    if not getattr(settings, "rules", True):
        return model
    from classifiers.safeguarded import SafeguardedClassifier

    return SafeguardedClassifier(model, threshold=settings.threshold,
                                 school_contacts=getattr(settings, "school_contacts", ()))


def load_model(
    reference: str = "default",
    *,
    threshold: float = 0.5,
    label_map: dict[str, str] | None = None,
    max_chars: int = 20_000,
) -> Classifier:
    """The model alone: "default", a folder (ONNX as shipped, or transformers), or a hub id."""
    folder = DEFAULT_MODEL if reference == "default" else Path(reference).expanduser()
    if (folder / "model.onnx").is_file():
        return _load(folder, _onnx, threshold=threshold, max_chars=max_chars)
    if reference == "default":
        raise ConfigError(f"classifier.model: the shipped model is missing from {folder}; reinstall the package")
    if folder.is_dir() or not looks_like_path(reference):
        return _load(reference, _transformers, threshold=threshold, label_map=label_map, max_chars=max_chars)
    raise ConfigError(
        f"classifier.model: {reference!r} is not a folder; give a model folder, a Hugging Face model id, "
        'or "default"'
    )


def apply_tuning(model: Classifier, path: Path, *, strict: bool = False) -> bool:
    """Use the school's tuning at ``path`` (``monitor tune``) if it was made for ``model`` and is sound.

    A tuning that cannot be used is logged (an ERROR naming the file, what is wrong and what to do;
    a WARNING if it was made for another model) and the shipped model is used: a damaged file never
    stops the monitor. With ``strict`` (``check-config``) it is raised instead: ``monitor.tune``'s
    ``TuningInvalid`` or ``TuningStale``.
    """
    from monitor.tune import TuningInvalid, TuningStale, read_tuning

    try:
        tuning = read_tuning(path, model)
    except (TuningInvalid, TuningStale) as exc:
        if strict:
            raise
        logger.log(logging.ERROR if isinstance(exc, TuningInvalid) else logging.WARNING, "%s", exc)
        return False
    if tuning is None:
        return False
    version = f"{model.version}+tuned.{tuning.tuned_at[:10]}"
    if tuning.head is not None:
        model.use_head(tuning.head, tuning.thresholds, version)
    else:
        model.thresholds = {**model.thresholds, **tuning.thresholds}
        model.version = version
    logger.info("classifier: using this school's tuning from %s (%s)", path, tuning.tuned_at)
    return True


def looks_like_path(reference: str) -> bool:
    """Whether ``classifier.model`` names a folder on this server (anything else is a Hugging Face model id)."""
    return reference.startswith(("/", ".", "~")) or "\\" in reference or reference.count("/") > 1


def _onnx(folder, **options) -> Classifier:
    from classifiers.onnx_model import OnnxModel

    return OnnxModel(folder, **options)


def _transformers(reference, **options) -> Classifier:
    try:
        from classifiers.hf_model import TransformersModel
    except ImportError as exc:
        raise ConfigError(
            f"classifier.model = {reference!r} needs transformers and torch: "
            "pip install 'school-social-monitor[hf]'"
        ) from exc
    return TransformersModel(reference, **options)


def _load(reference, factory, **options) -> Classifier:
    try:
        model = factory(reference, **options)
    except ConfigError:
        raise
    except ImportError as exc:
        raise ConfigError(
            f"classifier.model {str(reference)!r}: a package it needs is missing ({exc}); "
            "a transformers model needs: pip install 'school-social-monitor[hf]'"
        ) from exc
    except Exception as exc:
        raise ConfigError(
            f"classifier.model: cannot load the model at {str(reference)!r} ({type(exc).__name__}: {exc}); "
            "check the path or hub id, and that the model's files are complete"
        ) from exc
    logger.info("classifier: loaded %s version %s", model.name, model.version)
    return model
