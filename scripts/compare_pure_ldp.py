"""Runs the same simulations with dpseg and with the pure-ldp package and prints time and mean
squared error side by side. Started by scripts/compare-pure-ldp.sh, which installs pure-ldp.

Scenarios (same devices, epsilon, rates for both tools; fresh randomness per repetition):

* a group of m cases: dpseg's planned oracle vs pure-ldp's best frequency oracle for that domain
  and epsilon (direct encoding = GRR, or optimised unary encoding, by their closed-form variance);
* d independent segments: dpseg's segment sampling vs pure-ldp's unary encoding over the whole
  membership bit vector with epsilon split so the vector is epsilon-LDP (each bit perturbed with
  UE's p, q at 2*epsilon/d; pure-ldp's UEServer aggregates and estimates).

MSE is over the counts of every case or segment, averaged over repetitions, with its standard
error. Time is wall-clock for privatising, aggregating and estimating all devices.
"""

import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time

import numpy as np
from pure_ldp.frequency_oracles.direct_encoding import DEClient, DEServer
from pure_ldp.frequency_oracles.unary_encoding import UEClient, UEServer

DPSEG = sys.argv[1] if len(sys.argv) > 1 else "target/release/dpseg"
QUICK = os.environ.get("QUICK") == "1"


def dpseg_simulate(campaign_toml, truth, devices, seed, tmp):
    cpath, tpath = os.path.join(tmp, "c.toml"), os.path.join(tmp, "t.json")
    with open(cpath, "w") as f:
        f.write(campaign_toml)
    with open(tpath, "w") as f:
        json.dump(truth, f)
    out = subprocess.run(
        [DPSEG, "simulate", "--campaign", cpath, "--devices", str(devices), "--truth", tpath, "--seed", str(seed)],
        check=True, capture_output=True, text=True,
    ).stdout
    result = json.loads(out)
    # dpseg's own measurement of simulating and estimating (no process start or JSON).
    return result, result["elapsed_secs"]


def mse_stats(errors_per_rep):
    per_rep = [sum(e * e for e in errs) / len(errs) for errs in errors_per_rep]
    mean = sum(per_rep) / len(per_rep)
    sd = math.sqrt(sum((x - mean) ** 2 for x in per_rep) / max(1, len(per_rep) - 1))
    return mean, sd / math.sqrt(len(per_rep))


def group_scenario(m, eps, devices, reps, tmp):
    rng = random.Random(m * 100 + int(eps * 10))
    weights = [rng.random() ** 2 for _ in range(m)]
    total = sum(weights)
    rates = [w / total for w in weights]
    cases = ", ".join(f'{{ id = "c{k}", rule = "true" }}' for k in range(m))
    campaign = f'id = "g"\npurpose = "measurement"\nepoch = "1d"\nepsilon = {eps}\n[[groups]]\nid = "g"\ncases = [{cases}]\n'
    truth = {"groups": {"g": {f"c{k}": r for k, r in enumerate(rates)}}}
    ours, ours_time = [], 0.0
    for rep in range(reps):
        out, t = dpseg_simulate(campaign, truth, devices, rep + 1, tmp)
        ours_time += t
        stats = out["epochs"][0]["groups"]["g"]
        ours.append([stats[f"c{k}"]["estimate"] - stats[f"c{k}"]["true_count"] for k in range(m)])
    # pure-ldp over the same domain: m cases plus "none" (never held here), items 1..m+1.
    d = m + 1
    e = math.exp(eps)
    use_de = (e + d - 2) / (e - 1) ** 2 <= 4 * e / (e - 1) ** 2
    theirs, their_time = [], 0.0
    for rep in range(reps):
        np.random.seed(rep + 1)
        random.seed(rep + 1)
        data = np.random.choice(np.arange(1, m + 1), size=devices, p=rates)
        true_counts = np.bincount(data, minlength=d + 1)[1:]
        start = time.perf_counter()
        if use_de:
            client, server = DEClient(eps, d), DEServer(eps, d)
        else:
            client, server = UEClient(eps, d, use_oue=True), UEServer(eps, d, use_oue=True)
        for x in data:
            server.aggregate(client.privatise(int(x)))
        est = [server.estimate(k + 1, suppress_warnings=True) for k in range(m)]
        their_time += time.perf_counter() - start
        theirs.append([est[k] - true_counts[k] for k in range(m)])
    chosen = "pure-ldp DE (GRR)" if use_de else "pure-ldp OUE"
    return f"group m={m} eps={eps}", mse_stats(ours), ours_time / reps, chosen, mse_stats(theirs), their_time / reps


def segment_scenario(d, eps, devices, reps, tmp):
    rates = [0.005 * 100 ** (j / (d - 1)) for j in range(d)]
    body = "".join(f'[[segments]]\nid = "s{j}"\nrule = "true"\n' for j in range(d))
    campaign = f'id = "s"\npurpose = "measurement"\nepoch = "1d"\nepsilon = {eps}\n{body}'
    truth = {"segments": {f"s{j}": r for j, r in enumerate(rates)}}
    ours, ours_time = [], 0.0
    for rep in range(reps):
        out, t = dpseg_simulate(campaign, truth, devices, rep + 1, tmp)
        ours_time += t
        stats = out["epochs"][0]["segments"]
        ours.append([stats[f"s{j}"]["estimate"] - stats[f"s{j}"]["true_count"] for j in range(d)])
    theirs, their_time = [], 0.0
    for rep in range(reps):
        np.random.seed(rep + 1)
        bits = (np.random.random((devices, d)) < np.array(rates)).astype(np.int64)
        true_counts = bits.sum(axis=0)
        start = time.perf_counter()
        # UE's symmetric p, q at 2*eps/d per bit make the whole d-bit vector eps-LDP.
        client, server = UEClient(2 * eps / d, d), UEServer(2 * eps / d, d)
        for row in bits:
            noisy = np.where(row == 1, np.random.random(d) < client.p, np.random.random(d) < client.q).astype(np.int64)
            server.aggregate(noisy)
        est = [server.estimate(j + 1, suppress_warnings=True) for j in range(d)]
        their_time += time.perf_counter() - start
        theirs.append([est[j] - true_counts[j] for j in range(d)])
    return f"{d} segments eps={eps}", mse_stats(ours), ours_time / reps, "pure-ldp UE (eps/d per bit)", mse_stats(theirs), their_time / reps


def main():
    devices = 20_000 if QUICK else 100_000
    reps = 3 if QUICK else 8
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for m, eps in [(4, 1.0), (16, 1.0), (32, 2.0), (8, 0.5)]:
            rows.append(group_scenario(m, eps, devices, reps, tmp))
        for d, eps in [(20, 1.0), (32, 2.0), (50, 0.5)]:
            rows.append(segment_scenario(d, eps, devices, reps, tmp))
    print(f"devices={devices} repetitions={reps}\n")
    print(f"| scenario | dpseg MSE | dpseg time | pure-ldp oracle | pure-ldp MSE | pure-ldp time | MSE ratio | speed-up |")
    print(f"|---|---|---|---|---|---|---|---|")
    for name, (om, ose), ot, chosen, (tm, tse), tt in rows:
        print(f"| {name} | {om:.4g} ± {ose:.2g} | {ot * 1000:.0f} ms | {chosen} | {tm:.4g} ± {tse:.2g} | {tt * 1000:.0f} ms | {tm / om:.2f}× | {tt / ot:.0f}× |")
    print(
        "\nMSE ratio = pure-ldp MSE / dpseg MSE (higher is better for dpseg). Times cover privatising,\n"
        "aggregating and estimating every device (dpseg: as measured by `dpseg simulate`, without\n"
        "process start and JSON)."
    )


if __name__ == "__main__":
    main()
