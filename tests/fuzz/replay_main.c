/* SPDX-License-Identifier: MIT */
/*
 * replay_main.c - the main() of a fuzz target's *_replay build when the target
 * has no replay of its own (nb_fuzz_target without OWN_MAIN): every file named
 * on the command line, or every file of a folder, and every prefix of each,
 * through LLVMFuzzerTestOneInput. Prefixes stand for truncations anywhere.
 */
#include "replay.h"

int main(int argc, char **argv) { return nbf_replay_main(argc, argv, nbf_replay_prefixes); }
