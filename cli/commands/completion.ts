// `pipec completion bash|zsh|fish`: prints the shell's completion script,
// generated from the command definitions (cli/completion.ts), so it always
// knows every command and option of this pipec.

import { Argument, type Command } from 'commander';
import { completionScript, SHELLS, type Shell } from '../completion.ts';

export function register(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script (commands, options, .pipe files): bash, zsh or fish')
    .addArgument(new Argument('<shell>', 'the shell').choices([...SHELLS]))
    .addHelpText(
      'after',
      '\nInstall:\n' +
        '  bash  pipec completion bash > ~/.local/share/bash-completion/completions/pipec\n' +
        '  zsh   pipec completion zsh > "${fpath[1]}/_pipec"\n' +
        '  fish  pipec completion fish > ~/.config/fish/completions/pipec.fish',
    )
    .action((shell: Shell) => {
      process.stdout.write(completionScript(shell, program));
    });
}
