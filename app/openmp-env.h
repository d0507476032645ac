/* OpenMP's wait policy for the programs. */
#pragma once

/* libgomp reads its wait policy once, when it loads. Its default spins
 * idle threads for 300,000 rounds at every barrier: on a desktop shared with
 * other work that made training 4-13x slower (0.7 s passive vs 3-9 s active
 * for one 8-step run under load). Passive waiting (a futex at every fork and
 * barrier, ~1,500 regions per teacher step) costs instead on a quiet
 * machine. A short spin of 1,000 rounds measured no worse than passive either
 * way (`scflow bench train --no-torch --min-seconds 6`, 2 threads, best ms):
 * quiet 1,669 / 1,446 vs passive 1,684 / 1,846; beside a running training
 * 2,428 vs 2,647. (10,000 rounds: quiet 1,450 / 1,394 but 3,806 under load.)
 * So unless the user set OMP_WAIT_POLICY or GOMP_SPINCOUNT, the programs
 * re-execute themselves once with GOMP_SPINCOUNT=1000.
 *
 * Except `scflow bench`: a benchmark runs on a quiet machine, and its
 * PyTorch baseline inherits the environment, where 1,000 rounds made
 * PyTorch's training step 20% slower than its default (2,601-2,898 ms
 * against 2,153-2,234). Both sides then run with libgomp's default, as a
 * PyTorch user's would. */
void scf_openmp_bound_spinning(char **argv);
