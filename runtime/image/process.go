package image

import "errors"

// ResolveProcess returns a container's argv by Kubernetes' rules for a
// container's command and args against its image's Entrypoint and Cmd:
//
//	command set        -> command + args (the image's Entrypoint and Cmd are ignored)
//	only args set      -> Entrypoint + args
//	neither set        -> Entrypoint + Cmd
//
// An empty result is an error: there is nothing to run.
func ResolveProcess(cfg Config, command, args []string) ([]string, error) {
	var argv []string
	switch {
	case len(command) > 0:
		argv = append(append(argv, command...), args...)
	case len(args) > 0:
		argv = append(append(argv, cfg.Entrypoint...), args...)
	default:
		argv = append(append(argv, cfg.Entrypoint...), cfg.Cmd...)
	}
	if len(argv) == 0 {
		return nil, errors.New("no command to run: the container sets no command or args and the image has no Entrypoint or Cmd")
	}
	return argv, nil
}
