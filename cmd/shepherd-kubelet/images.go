package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/shepherd-lab/shepherd/runtime/image"
)

func newImagesCommand(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "images",
		Short: "Manage the image store: list, pull, import, rm, gc",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(&cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List images",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := o.images()
			if err != nil {
				return err
			}
			list, err := s.List()
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 8, 3, ' ', 0)
			fmt.Fprintln(w, "IMAGE\tIMAGE ID\tSIZE")
			for _, img := range list {
				name := "<none>"
				if len(img.RepoTags) > 0 {
					name = strings.Join(img.RepoTags, ",")
				}
				fmt.Fprintf(w, "%s\t%s\t%s\n", name, shortID(img.ID), humanSize(img.Size))
			}
			return w.Flush()
		},
	}, &cobra.Command{
		Use:   "pull REF",
		Short: "Pull an image from its registry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := o.images()
			if err != nil {
				return err
			}
			img, err := s.Pull(cmd.Context(), args[0], image.PullOptions{})
			if err != nil {
				return err
			}
			fmt.Println(img.ID)
			return nil
		},
	}, &cobra.Command{
		Use:   "import PATH",
		Short: "Import a docker-save archive or an OCI layout (directory or tar)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := o.images()
			if err != nil {
				return err
			}
			imgs, err := s.Import(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			for _, img := range imgs {
				fmt.Println(strings.Join(append(img.RepoTags, img.ID), " "))
			}
			return nil
		},
	}, &cobra.Command{
		Use:   "rm REF...",
		Short: "Remove image names (the image goes with its last name)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := o.images()
			if err != nil {
				return err
			}
			users, err := imageUsers(o)
			if err != nil {
				return err
			}
			var errs []error
			for _, ref := range args {
				if img, err := s.Get(ref); err == nil && len(users[img.ID]) > 0 {
					errs = append(errs, fmt.Errorf("image %s is used by container %s: remove the container first", ref, users[img.ID][0]))
					continue
				}
				if err := s.Remove(ref); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Println("Untagged:", ref)
			}
			return errors.Join(errs...)
		},
	}, &cobra.Command{
		Use:   "gc",
		Short: "Delete untagged images and layers no image uses (keeping those of existing containers)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := o.images()
			if err != nil {
				return err
			}
			users, err := imageUsers(o)
			if err != nil {
				return err
			}
			keep := map[string]bool{}
			for id := range users {
				keep[id] = true
			}
			ri, rl, err := s.GC(context.Background(), keep)
			if err != nil {
				return err
			}
			fmt.Printf("removed %d images, %d layers\n", ri, rl)
			return nil
		},
	})
	return cmd
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// imageUsers maps image IDs to the containers (any state) that use them.
func imageUsers(o *options) (map[string][]string, error) {
	rt, err := o.runtime(false)
	if err != nil {
		return nil, err
	}
	list, err := rt.List()
	if err != nil {
		return nil, err
	}
	users := map[string][]string{}
	for _, st := range list {
		if id := st.Labels[imageIDLabel]; id != "" {
			users[id] = append(users[id], st.ID)
		}
	}
	return users, nil
}
