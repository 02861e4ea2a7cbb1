"""The penalty ``(C, l1_ratio)``: one value that owns every rule that depends on it.

With row weights summing to ``S`` (docs/user_guide/objective.rst)::

    penalty(W) = (1 - r) ||W||_F^2 / (2 C S) + r ||W||_1 / (C S),   r = l1_ratio.

The rules, each stated once here and used by both estimators and the path:
``C = inf`` is no penalty at all (the L1 part goes with it); an L1 part makes
the objective non-smooth, so it is solved by L-BFGS-B over the split variables
or by the orthant-based Newton-CG (``_l1``, ``_newton.newton_orthant``), never
on the exact Hessian; and it fixes the softmax's gauge itself, so the
reported coefficients are not re-centred (centring would move exact zeros).
"""

from dataclasses import dataclass

import numpy as np

from ._l1 import L1Orthant, L1Split
from ._objective import ContrastObjective, SoftmaxObjective
from ._solver import choose_solver

__all__ = ["Penalty"]


@dataclass(frozen=True)
class Penalty:
    """The elastic-net penalty of one fit: inverse strength ``C``, L1 share.

    Parameters
    ----------
    C : float
        Inverse regularisation strength in ``(0, inf]``; ``np.inf`` is no
        penalty, whatever ``l1_ratio`` is.
    l1_ratio : float in [0, 1], default=0.0
        Share of the L1 part.

    Examples
    --------
    >>> import numpy as np
    >>> Penalty(2.0, 0.5).strengths(total=4.0)
    (0.0625, 0.0625)
    >>> Penalty(np.inf, 0.5).has_l1, Penalty(1.0, 0.5).centred
    (False, False)
    """

    C: float
    l1_ratio: float = 0.0

    @property
    def unpenalised(self):
        """Whether ``C = inf``: no penalty, so no finite optimum on separable data."""
        return not np.isfinite(self.C)

    @property
    def l1_part(self):
        """The L1 share in force: ``l1_ratio``, or 0 where ``C`` is infinite."""
        return 0.0 if self.unpenalised else self.l1_ratio

    @property
    def has_l1(self):
        """Whether the objective has an L1 term (non-smooth)."""
        return self.l1_part > 0

    @property
    def centred(self):
        """Whether the reported coefficients are centred (``sum_k W_k = 0``).

        Without an L1 part the optimum is centred by the L2 term (or, at
        ``C = inf``, chosen so); with one, the L1 term fixes the gauge and the
        solution is reported as solved.
        """
        return not self.has_l1

    def strengths(self, total):
        """``(alpha, l1)``: the L2 and L1 weights per unit of row weight,
        ``(1 - r) / (C S)`` and ``r / (C S)`` with ``S = total``."""
        r = self.l1_part
        return (1.0 - r) / (self.C * total), r / (self.C * total)

    def check_solver(self, solver):
        """Raise ValueError if ``solver`` cannot minimise this penalty."""
        if solver == "newton-cholesky" and self.has_l1:
            raise ValueError(
                f"solver={solver!r} needs a smooth objective; l1_ratio="
                f"{self.l1_ratio:g} adds an L1 penalty (at C={self.C:g}). Use "
                "solver='newton-cg' (orthant-based Newton), 'lbfgs' (orthant-"
                "wise L-BFGS) or 'auto'."
            )

    def solver(self, requested, n_samples, n_features, n_classes):
        """The minimiser for ``requested`` ("auto" or a name of ``_solver.SOLVERS``).

        With an L1 part: "auto" is L-BFGS-B on the split, "newton-cg" the
        orthant-based Newton ("newton-cholesky" raises); otherwise
        :func:`~sklearn_softmax._solver.choose_solver` on the problem's size.
        """
        self.check_solver(requested)
        if self.has_l1:
            # at the default tol the split's L-BFGS-B takes fewer passes than
            # the orthant Newton (docs/performance.rst)
            return "lbfgs" if requested == "auto" else requested
        return choose_solver(requested, n_samples, n_features, n_classes)

    def objective(self, blocks, statistics, *, total, dtype, solver):
        """The objective the solver minimises for this penalty.

        Parameters
        ----------
        blocks : Blocks
            Prepared, laid-out row blocks (weights summing to one).
        statistics : DataStatistics
            The data statistics behind the preconditioner (the same for every
            penalty of a path).
        total : float
            ``S``, the row weights' sum before normalisation.
        dtype : dtype
            ``X``'s dtype.
        solver : str
            The minimiser, resolved (:meth:`solver`).

        Returns
        -------
        Objective
            A :class:`~sklearn_softmax._objective.ContrastObjective` for
            "newton-cholesky"; else a
            :class:`~sklearn_softmax._objective.SoftmaxObjective`, wrapped
            when there is an L1 part in :class:`~sklearn_softmax._l1.L1Orthant`
            for "newton-cg", else in :class:`~sklearn_softmax._l1.L1Split`.
        """
        alpha, l1 = self.strengths(total)
        if solver == "newton-cholesky":
            return ContrastObjective(
                blocks, statistics.contrasts(alpha), alpha=alpha, dtype=dtype
            )
        objective = SoftmaxObjective(
            blocks, statistics.preconditioner(alpha), alpha=alpha, dtype=dtype
        )
        if not self.has_l1:
            return objective
        return (L1Orthant if solver == "newton-cg" else L1Split)(objective, l1)
