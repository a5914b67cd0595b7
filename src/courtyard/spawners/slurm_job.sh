#!/bin/bash
# Courtyard: a user's notebook server as a Slurm batch job.
#
# To change it, copy this file, edit the copy and set [slurm] job_template to its path.
# It is a Python string.Template: $${directives} (the sbatch options from [slurm] and the
# chosen profile), $${user} (the Courtyard user), $${python} (the interpreter) and $${command}
# (the launcher command, already shell-quoted) are filled in; write $$$$ for a dollar sign.
# The per-server secret is not in this script: the launcher reads it from a file only the
# user may read.
${directives}

set -eu
# Site setup goes here, e.g.: module load python/3.11

exec ${command}
