// Package completion writes shell completion scripts (bash, zsh, fish) for
// spook and spookd from a description of their commands and flags, so the
// scripts always match the binary that prints them:
//
//	spook completion bash > /etc/bash_completion.d/spook
//	spook completion zsh > "${fpath[1]}/_spook"
//	spook completion fish > ~/.config/fish/completions/spook.fish
//	spookd --completion bash > /etc/bash_completion.d/spookd
//
// A program is a list of top-level flags and, for spook, subcommands with
// their own flags and actions (the words after the subcommand, such as
// `member leave`). Flags complete after "-"; actions complete as the
// first word after the subcommand; anything else completes file names.
package completion
