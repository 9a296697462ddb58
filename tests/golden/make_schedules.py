"""Writes tests/golden/schedules.json: the learning rate of every step of a
5-epoch, 7-step-per-epoch run with base rate 1e-3, as PyTorch's schedulers give
it (run with any recent PyTorch: python make_schedules.py). tests/schedule.rs
holds gpunet's --lr-schedule to these numbers."""
import json, torch

BASE, PER_EPOCH, EPOCHS = 1e-3, 7, 5
TOTAL = PER_EPOCH * EPOCHS


def run(make, per_step):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=BASE)
    sched = make(opt)
    rates = []
    for step in range(TOTAL):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        if per_step or (step + 1) % PER_EPOCH == 0:
            sched.step()
    return rates


out = {
    "base": BASE, "per_epoch": PER_EPOCH, "epochs": EPOCHS, "torch": torch.__version__,
    "const": run(lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda e: 1.0), False),
    "exp:0.95": run(lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.95), False),
    "cosine": run(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=TOTAL), True),
    "onecycle": run(lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=BASE, total_steps=TOTAL, cycle_momentum=False), True),
}
with open(__file__.replace("make_schedules.py", "schedules.json"), "w") as f:
    json.dump(out, f, indent=1)
