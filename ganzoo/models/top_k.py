"""Top-k training's schedule (Sinha et al. 2020): the share of each fake batch the generator
learns from starts at 1 and is multiplied by `top_k_decay` at each epoch, down to `top_k`.

`GANBase.fit` adds `TopKSchedule` when the model has `top_k` set. It assigns the model's `top_k`
variable at each epoch's start, from the epoch's index (a resumed run continues the schedule),
between compiled calls: on JAX the trainer reads the variables at the epoch's first step.
"""

import keras


def top_k_fraction(epoch, top_k, decay):
    """The share kept in epoch `epoch` (0-based): max(top_k, decay ** epoch)."""
    return max(float(top_k), float(decay) ** int(epoch))


class TopKSchedule(keras.callbacks.Callback):
    """Sets `model._game_variables["top_k"]` to `top_k_fraction(epoch, ...)` at each epoch's start."""

    def on_epoch_begin(self, epoch, logs=None):
        model = self.model
        model._game_variables["top_k"].assign(top_k_fraction(epoch, model.top_k, model.top_k_decay))


def with_top_k_schedule(model, callbacks):
    """`fit`'s `callbacks` (None, a list or a `CallbackList`) with a `TopKSchedule` added when the
    model trains top-k and none is there yet."""
    if getattr(model, "top_k", None) is None:
        return callbacks
    existing = callbacks.callbacks if isinstance(callbacks, keras.callbacks.CallbackList) else list(callbacks or [])
    if any(isinstance(c, TopKSchedule) for c in existing):
        return callbacks
    schedule = TopKSchedule()
    if isinstance(callbacks, keras.callbacks.CallbackList):  # used as given by fit: set its model here
        schedule.set_model(model)
        callbacks.append(schedule)
        return callbacks
    return existing + [schedule]
