/* OpenMP's wait policy for the programs. */
#pragma once

/* libgomp reads OMP_WAIT_POLICY once, when it loads, and by default idle
 * threads spin at every barrier. On a desktop shared with other work that
 * spinning made training 4-13x slower (measured: 0.7 s passive vs 3-9 s
 * active for the same 8-step run under load), so unless the user chose a
 * policy the programs re-execute themselves once with "passive". */
void scf_openmp_prefer_passive(char **argv);
