"""Which network an export holds, and with which inputs: the (EMA, float32) generator of a
ganzoo model or a bare Keras generator, its latent size, its classes when it is conditional,
and its output on the fixed parity batch. Keras is imported inside the functions."""

import numpy as np

from ganzoo.errors import ExportError
from ganzoo.export.layout import _parity_labels, _parity_latents


def _float32_generator(generator):
    """The generator itself when every layer computes in float32, else a float32 clone.

    Mixed precision is a training-speed choice; a served generator should not depend on the
    GPU it was trained on, and ONNX/TF Serving on CPU have no fast float16 path anyway.
    """
    import keras

    low = {"float16", "bfloat16"}

    def all_layers(layer):
        yield layer
        for child in getattr(layer, "layers", []):
            yield from all_layers(child)

    layers = list(all_layers(generator))
    mixed = [l.name for l in layers if getattr(l, "compute_dtype", "float32") in low]
    mixed += [v.path for v in generator.weights if v.dtype in low]
    if not mixed:
        return generator, None

    def as_float32(layer):
        config = layer.get_config()
        config["dtype"] = "float32"
        return layer.__class__.from_config(config)

    policy = getattr(generator.dtype_policy, "name", None) or str(mixed[0])
    try:
        clone = keras.models.clone_model(generator, clone_function=as_float32, recursive=True)
        clone.set_weights([np.asarray(w, dtype=np.float32) for w in generator.get_weights()])
    except Exception as e:
        raise ExportError(
            f"The generator computes in reduced precision (layers {mixed[:3]}...) and could not be "
            f"rebuilt in float32 for export ({e}). Rebuild it under the 'float32' dtype policy, "
            "load the trained weights into it, and export that."
        ) from e
    return clone, policy


def _resolve(model_or_generator, latent_dim, allow_untrained):
    """(generator, latent_dim, card fields) from a ganzoo model or a bare Keras generator."""
    import keras

    obj = model_or_generator
    if isinstance(getattr(obj, "generator", None), keras.Model):
        generator, latent_dim, card = _from_ganzoo_model(obj, latent_dim, allow_untrained)
    elif isinstance(obj, keras.Model):
        generator = obj
        card = {"model": obj.name, "ema": False}
    else:
        raise ExportError(
            "export_generator takes a ganzoo model (with `.generator` and `.latent_dim`) or a Keras "
            f"generator model; got {type(obj).__name__}."
        )

    if not generator.built or not generator.weights:
        raise ExportError(
            f"The generator {generator.name!r} is not built (it has no weights yet). Build it with "
            "keras.Input((latent_dim,)) or call it once on a batch of z before exporting."
        )
    return generator, _check_latent_dim(generator, latent_dim), card


def _from_ganzoo_model(obj, latent_dim, allow_untrained):
    """(generator, latent_dim, card fields) of a ganzoo model: its EMA generator when it has
    one; refused when it was never trained (unless `allow_untrained`)."""
    card = {}
    generator = obj.generator
    ema = getattr(obj, "ema_generator", None)
    card["model"] = type(obj).__name__
    card["ema"] = ema is not None
    if ema is not None:
        generator = ema
    model_latent = getattr(obj, "latent_dim", None)
    if latent_dim is not None and model_latent is not None and int(latent_dim) != int(model_latent):
        raise ExportError(f"latent_dim={latent_dim} was given but the model's latent_dim is {model_latent}.")
    latent_dim = model_latent if model_latent is not None else latent_dim
    if getattr(obj, "seed", None) is not None:
        card["seed"] = obj.seed
    if getattr(obj, "label_prior", None) is not None:
        card["label_prior"] = list(obj.label_prior)  # p(y): how labels left out are drawn
    untrained = None
    if hasattr(obj, "g_optimizer"):
        opt = obj.g_optimizer
        card["training_steps"] = None if opt is None else int(np.asarray(opt.iterations))
        if opt is None:
            untrained = "it was never compiled"
        elif card["training_steps"] == 0:
            untrained = "0 training steps"
    if untrained and not allow_untrained:
        raise ExportError(
            f"The {card['model']} has not been trained ({untrained}), so its generator makes "
            "noise. Train it first (model.fit), or pass allow_untrained=True to export it anyway "
            "(for example after loading trained weights into an uncompiled model)."
        )
    return generator, latent_dim, card


def _check_latent_dim(generator, latent_dim):
    """latent_dim as an int: the given one, checked against the generator's input, or inferred."""
    inferred = None
    try:
        shape = generator.input_shape
        if isinstance(shape, list) and len(shape) == 2:  # a conditional generator's [z, label]
            shape = shape[0]
        if isinstance(shape, tuple) and len(shape) == 2 and shape[-1] is not None:
            inferred = int(shape[-1])
    except (AttributeError, ValueError):
        pass  # subclassed generators have no symbolic input; latent_dim= must be given
    if latent_dim is None:
        latent_dim = inferred
    if latent_dim is None:
        raise ExportError(
            "Cannot infer latent_dim from the generator's input; pass latent_dim= (the size of z)."
        )
    if inferred is not None and inferred != int(latent_dim):
        raise ExportError(f"latent_dim={latent_dim} does not match the generator's input shape {generator.input_shape}.")
    return int(latent_dim)


def _float32_reference(generator, latent_dim, card_fields, num_classes=None):
    """(float32 generator, parity inputs, its float32 output, card fields): the output checked
    to be finite images in [-1, 1] or vectors; a mixed-precision generator's drift is recorded.
    The parity inputs are z, or [z, labels] for a conditional generator."""
    import keras

    trained_generator = generator
    generator, mixed_policy = _float32_generator(generator)
    z = _parity_latents(latent_dim)
    inputs = z if num_classes is None else [z, _parity_labels(num_classes)]
    reference = keras.ops.convert_to_numpy(keras.ops.cast(generator(inputs, training=False), "float32"))
    if reference.ndim not in (2, 4):
        raise ExportError(
            f"The generator's output has shape {reference.shape}; exports take images (N, H, W, C) "
            "or vectors (N, d)."
        )
    if not np.all(np.isfinite(reference)):
        raise ExportError("The generator outputs NaN or inf on a normal latent batch (training diverged?).")
    if reference.ndim == 4 and np.abs(reference).max() > 1.0 + 1e-6:
        raise ExportError(
            f"The generator's images reach {np.abs(reference).max():.3f}, outside [-1, 1]: exported "
            "images are tanh outputs in [-1, 1]. End the generator with a tanh activation."
        )
    if mixed_policy is not None:
        card_fields["trained_dtype_policy"] = mixed_policy
        trained = keras.ops.convert_to_numpy(keras.ops.cast(trained_generator(inputs, training=False), "float32"))
        card_fields["float32_vs_trained_precision_max_abs_diff"] = float(np.abs(trained - reference).max())
    return generator, inputs, reference, card_fields


def _conditioning(generator, class_names, card_fields):
    """(num_classes, class names) of a conditional generator (inputs [z, label]), or (None, None).

    The class count comes from the default networks' `label_embedding` layer, else from
    `class_names` or the card's "num_classes"; names default to "0", "1", ..."""
    inputs = getattr(generator, "inputs", None) or []
    two_inputs = len(inputs) == 2
    num_classes = card_fields.pop("num_classes", None)
    try:
        num_classes = generator.get_layer("label_embedding").input_dim
    except (ValueError, AttributeError):
        pass
    if class_names is None and num_classes is None and not two_inputs:
        return None, None
    if not two_inputs and inputs:
        raise ExportError(f"class_names were given but the generator takes one input ({inputs[0].name}); a "
                          "conditional generator takes [z, label].")
    if class_names is not None:
        class_names = [str(name) for name in class_names]
        if num_classes is not None and len(class_names) != num_classes:
            raise ExportError(f"{len(class_names)} class_names for a generator of {num_classes} classes.")
        num_classes = len(class_names)
    if num_classes is None or int(num_classes) < 2:
        raise ExportError("The generator takes [z, label] but its number of classes is unknown: pass "
                          "class_names=[...] (one name per label, in label order).")
    num_classes = int(num_classes)
    return num_classes, class_names or [str(i) for i in range(num_classes)]
