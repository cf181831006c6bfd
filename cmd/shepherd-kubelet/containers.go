package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/shepherd-lab/shepherd/cmd/internal/cli"
	"github.com/shepherd-lab/shepherd/runtime/container"
	"github.com/shepherd-lab/shepherd/runtime/logs"
)

func newPsCommand(o *options) *cobra.Command {
	var all, quiet bool
	cmd := &cobra.Command{
		Use:   "ps",
		Short: "List containers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rt, err := o.runtime(false)
			if err != nil {
				return err
			}
			list, err := rt.List()
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 8, 3, ' ', 0)
			if !quiet {
				fmt.Fprintln(w, "CONTAINER ID\tIMAGE\tPID\tSTATUS\tCREATED")
			}
			for _, st := range list {
				if !all && st.Status != container.StatusRunning && st.Status != container.StatusCreated {
					continue
				}
				if quiet {
					fmt.Fprintln(w, st.ID)
					continue
				}
				fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s ago\n", short(st.ID), st.Image, st.Pid, status(st), ago(st.CreatedAt))
			}
			return w.Flush()
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Also list exited containers.")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Print IDs only.")
	return cmd
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func status(st *container.State) string {
	switch st.Status {
	case container.StatusRunning:
		return "Up " + ago(st.StartedAt)
	case container.StatusExited:
		s := fmt.Sprintf("Exited (%d) %s ago", st.Exit.ExitCode, ago(st.Exit.FinishedAt))
		if st.Exit.OOMKilled {
			s += " OOMKilled"
		}
		return s
	}
	return string(st.Status)
}

func ago(t time.Time) string {
	return time.Since(t).Round(time.Second).String()
}

func newLogsCommand(o *options) *cobra.Command {
	var ro logs.ReadOptions
	cmd := &cobra.Command{
		Use:   "logs [flags] CONTAINER",
		Short: "Print a container's log",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := o.runtime(false)
			if err != nil {
				return err
			}
			st, err := resolveContainer(rt, args[0])
			if err != nil {
				return err
			}
			ctx, cancel := cli.SignalContext()
			defer cancel()
			ro.Done = func() bool {
				s, err := rt.State(st.ID)
				return err != nil || (s.Status != container.StatusRunning && s.Status != container.StatusCreated)
			}
			return logs.Read(ctx, st.LogPath, ro, os.Stdout, os.Stderr)
		},
	}
	cmd.Flags().BoolVarP(&ro.Follow, "follow", "f", false, "Keep printing as the log grows, until the container exits.")
	cmd.Flags().Int64Var(&ro.Tail, "tail", -1, "Print only the last N lines (-1: all).")
	cmd.Flags().BoolVarP(&ro.Timestamps, "timestamps", "t", false, "Prefix each line with its time.")
	return cmd
}

func newRmCommand(o *options) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "rm [-f] CONTAINER...",
		Short: "Remove containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(o, args, func(rt *container.Runtime, id string) error {
				err := rt.Delete(context.Background(), id, force)
				if errors.Is(err, container.ErrRunning) {
					err = fmt.Errorf("%w (stop it first, or use -f)", err)
				}
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Kill a running container first.")
	return cmd
}

func newStopCommand(o *options) *cobra.Command {
	var graceSeconds int
	cmd := &cobra.Command{
		Use:   "stop [-t SECONDS] CONTAINER...",
		Short: "Stop containers: SIGTERM, then SIGKILL after the grace period",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(o, args, func(rt *container.Runtime, id string) error {
				return stop(rt, id, time.Duration(graceSeconds)*time.Second)
			})
		},
	}
	cmd.Flags().IntVarP(&graceSeconds, "time", "t", 10, "Seconds to wait after SIGTERM before SIGKILL.")
	return cmd
}

func stop(rt *container.Runtime, id string, grace time.Duration) error {
	st, err := rt.State(id)
	if err != nil {
		return err
	}
	if st.Status != container.StatusRunning && st.Status != container.StatusCreated {
		return nil // nothing to stop
	}
	if err := rt.Signal(id, syscall.SIGTERM); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if _, err := rt.Wait(ctx, id); err == nil {
		return nil
	}
	if err := rt.Signal(id, syscall.SIGKILL); err != nil {
		return err
	}
	_, err = rt.Wait(context.Background(), id)
	return err
}

// eachContainer applies fn to each named container (ID or unique prefix),
// printing the IDs it succeeded for and joining the errors.
func eachContainer(o *options, refs []string, fn func(rt *container.Runtime, id string) error) error {
	rt, err := o.runtime(false)
	if err != nil {
		return err
	}
	var errs []error
	for _, ref := range refs {
		st, err := resolveContainer(rt, ref)
		if err == nil {
			err = fn(rt, st.ID)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Println(st.ID)
	}
	return errors.Join(errs...)
}
