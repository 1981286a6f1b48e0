"""Times scikit-learn's GaussianMixture per EM iteration on the benchmark's data, for docs/benchmarks.md.

Usage (Debian's python3-sklearn):
  dotnet run -c Release --project tests/EmStreaming.Benchmarks -- gmm-peak 1000000 /tmp/gmm-1m.csv
  /usr/bin/python3 tests/EmStreaming.Benchmarks/Gmm/sklearn_iteration.py /tmp/gmm-1m.csv

It warm-starts from a converged-ish state and times max_iter=10 fits, so initialization is not counted, and
reports seconds per iteration (median of 3 runs). scikit-learn uses both cores through its BLAS.
"""
import sys
import time
import warnings

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

warnings.filterwarnings("ignore", category=ConvergenceWarning)
X = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1)
k = int(sys.argv[2]) if len(sys.argv) > 2 else 8
iterations = 10
base = GaussianMixture(k, covariance_type="full", max_iter=5, random_state=1).fit(X)
times = []
for _ in range(3):
    g = GaussianMixture(k, covariance_type="full", max_iter=iterations, tol=0.0,
                        weights_init=base.weights_, means_init=base.means_,
                        precisions_init=base.precisions_)
    start = time.perf_counter()
    g.fit(X)
    times.append((time.perf_counter() - start) / g.n_iter_)
print(f"scikit-learn {sklearn.__version__}: n={X.shape[0]} d={X.shape[1]} K={k} full: "
      f"{np.median(times):.4f} s per EM iteration (median of 3, {iterations} iterations each)")
