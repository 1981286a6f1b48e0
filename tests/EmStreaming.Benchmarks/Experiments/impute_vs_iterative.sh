#!/usr/bin/env bash
# Issue 11: `emstream impute` with default settings against scikit-learn's IterativeImputer on the wine data (178 x 13),
# 10 % of the entries masked at random (10 seeds). Error = RMSE over the masked entries, each in units of its column's
# standard deviation; ratio = that error / the column-mean imputation's.
# Needs Debian's python3-sklearn (apt-get install python3-sklearn) and a Release build of src/EmStreaming.Cli.
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
work="$(mktemp -d)"
cli="dotnet $root/src/EmStreaming.Cli/bin/Release/net10.0/emstream.dll"
cd "$work"
/usr/bin/python3 - <<'PY'
import numpy as np
from sklearn.datasets import load_wine
X = load_wine().data
names = [n.replace('/', '_') for n in load_wine().feature_names]
for seed in range(10):
    rng = np.random.default_rng(seed)
    mask = rng.random(X.shape) < 0.10
    for i in range(X.shape[0]):
        if mask[i].all(): mask[i, 0] = False
    Xm = X.copy(); Xm[mask] = np.nan
    np.savetxt(f'wine_masked_{seed}.csv', Xm, delimiter=',', header=','.join(names), comments='', fmt='%.10g')
    np.save(f'mask_{seed}.npy', mask)
PY
for s in 0 1 2 3 4 5 6 7 8 9; do $cli impute "wine_masked_$s.csv" -o "out_$s.csv" 2>"why_$s.txt"; done
/usr/bin/python3 - <<'PY'
import numpy as np
from sklearn.datasets import load_wine
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, SimpleImputer
X = load_wine().data; sd = X.std(axis=0)
ours, its, means = [], [], []
for s in range(10):
    mask = np.load(f'mask_{s}.npy'); Xm = X.copy(); Xm[mask] = np.nan
    err = lambda Xi: np.sqrt(np.mean(((Xi - X)[mask] / np.broadcast_to(sd, X.shape)[mask]) ** 2))
    m = err(SimpleImputer().fit_transform(Xm)); it = err(IterativeImputer(random_state=0).fit_transform(Xm))
    o = err(np.loadtxt(f'out_{s}.csv', delimiter=',', skiprows=1))
    ours.append(o); its.append(it); means.append(m)
    print(f"seed {s}: emstream {o:.4f} ({o/m:.3f}x mean)  IterativeImputer {it:.4f} ({it/m:.3f}x)  {open(f'why_{s}.txt').readline().split(':')[1].strip()}")
print(f"mean: emstream {np.mean(ours):.4f} ({np.mean(np.array(ours)/means):.3f}x)  IterativeImputer {np.mean(its):.4f} ({np.mean(np.array(its)/means):.3f}x); emstream better on {sum(o < i for o, i in zip(ours, its))}/10 seeds")
PY
