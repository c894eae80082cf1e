"""The Hessian of a 2-2-1 network: its curvature at the start and at the end of training,
and Newton steps from where gradient descent stopped.

Run:  python examples/hessian_221.py
Prints the eigenvalues of the 9 x 9 Hessian of the mean loss (numpy.linalg.eigvalsh) at the
initial parameters and after training, one entry derived symbolically (∂²J/∂w⁽²⁾₁₁², step
by step at one sample, equal to the compiled Hessian of that sample), and the loss over a
few damped Newton steps. Writes nothing.
"""

from __future__ import annotations

import numpy as np

import symbackprop as sbp


def main() -> None:
    X, Y = sbp.datasets.moons(n=60, noise=0.25, seed=1)  # not separable by 2 hidden units
    net = sbp.mlp([2, 2, 1], activation=["tanh", "sigmoid"], loss="binary_cross_entropy")
    model = net.compile()
    start = net.init_params(seed=3)

    def curvature(params, when):
        H = model.hessian(params, X, Y)  # 9 x 9, in net.params order
        eig = np.linalg.eigvalsh(H)
        print(f"{when}: loss {model.loss(params, X, Y):.4f}, Hessian eigenvalues")
        print("   ", np.array2string(eig, precision=4, suppress_small=True))
        kind = "a minimum (all positive)" if eig.min() > 0 else f"{(eig < 0).sum()} direction(s) of negative curvature"
        print(f"    {kind}; largest/smallest |eigenvalue| {abs(eig).max() / abs(eig).min():.3g}")
        return H

    curvature(start, "start")
    params, history = sbp.train(net, X, Y, epochs=1500, lr=0.5, batch_size=60, seed=0, progress=False)
    curvature(params, "after 1500 epochs of gradient descent")

    # One entry, derived symbolically: backpropagation of the gradient, at the first sample.
    h = net.hessian_derivation("w2_1_1", "w2_1_1").at(params, X[0], Y[0])
    print("\n∂²J/∂w⁽²⁾₁₁² =", sbp.to_text(h.compact), f"= {h.value(h.compact):.6f} at the first sample;")
    i = net.params.index(net.w(2, 1, 1))
    print(f"the compiled Hessian of that sample: {model.hessian(params, X[:1], Y[:1])[i, i]:.6f}")

    # Newton steps θ ← θ − (H + λI)⁻¹ ∇J from where gradient descent stopped (λ keeps H + λI
    # positive definite should a direction of negative curvature appear).
    theta = np.array([params[p] for p in net.params])
    print("\nNewton steps from there:")
    for step in range(1, 6):
        p = dict(zip(net.params, theta))
        g = np.array(list(model.gradient(p, X, Y).values()))
        H = model.hessian(p, X, Y)
        lam = max(0.0, -np.linalg.eigvalsh(H).min()) + 1e-6
        theta = theta - np.linalg.solve(H + lam * np.eye(len(theta)), g)
        p = dict(zip(net.params, theta))
        print(f"  step {step}: loss {model.loss(p, X, Y):.6f}, gradient norm "
              f"{np.linalg.norm(list(model.gradient(p, X, Y).values())):.2e}")


if __name__ == "__main__":
    main()
