"""Does Optuna's own MaxTrialsCallback keep search.py's exact total? (a command, not a test)

    python benchmarks/optuna_totals.py

Two worker processes on one SQLite study, each study.optimize with
MaxTrialsCallback(6, states=(COMPLETE,)), trials of 0.5 to 1.5 seconds as a run's would be;
the finished trials are counted after both end, three times. search.py's own count (a worker
starts a trial only while finished and running trials are fewer than --n-trials, lab/study.py)
ends with exactly --n-trials; the callback, which stops a worker only after a trial of its
own ends, lets the other worker's trial already started finish past the total.
"""
import multiprocessing
import random
import tempfile
import time

import optuna
from optuna.study import MaxTrialsCallback
from optuna.trial import TrialState

N_TRIALS = 6


def objective(trial):
    time.sleep(.5 + random.random())  # a trial takes a while, as a run does
    return trial.suggest_float('x', 0, 1)


def worker(storage):
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.load_study(study_name='s', storage=storage)
    total = MaxTrialsCallback(N_TRIALS, states=(TrialState.COMPLETE,))
    study.optimize(objective, callbacks=[total])


def main():
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    for attempt in range(1, 4):
        with tempfile.TemporaryDirectory() as folder:
            storage = f'sqlite:///{folder}/s.db'
            optuna.create_study(study_name='s', storage=storage)
            workers = [multiprocessing.Process(target=worker, args=(storage,)) for _ in range(2)]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            trials = optuna.load_study(study_name='s', storage=storage).get_trials()
            done = sum(t.state == TrialState.COMPLETE for t in trials)
            print(f'attempt {attempt}: MaxTrialsCallback({N_TRIALS}), two workers: {done} '
                  f'finished trials')


if __name__ == '__main__':
    main()
