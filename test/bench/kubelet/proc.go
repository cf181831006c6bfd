package main

import "github.com/shepherd-lab/shepherd/test/bench/internal/benchutil"

// proc is a component under test: see benchutil.Proc.
type proc = benchutil.Proc
