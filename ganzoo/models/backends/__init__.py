"""The one part of a training step that differs per backend: taking the gradients and applying
them. `ganzoo.models.base` picks the module of `keras.backend.backend()`.

    tensorflow.py  TensorFlowStep: one GradientTape per player, tf.distribute, XLA
    jax.py         JaxStep: jax.value_and_grad per player over Keras' stateless calls
    jax_multistep.py  MultiStep: steps_per_execution n > 1 on JAX as one compiled lax.scan of n steps
    torch.py       TorchStep: torch.autograd.grad per player
"""
