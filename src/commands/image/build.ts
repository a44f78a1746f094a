import {Flags} from '@oclif/core';
import {BaseCommand} from '../../lib/ui/base-command.js';
import type {ImageBuildResult} from '../../lib/image/build.js';

export default class ImageBuild extends BaseCommand<typeof ImageBuild> {
  static summary = 'Build the server and trainer container images (docker, or podman).';
  static description = `The server image holds the llmops CLI with production dependencies only, runs as a non-root user, has a HEALTHCHECK on /health and serves the model in /models: baked in with --model, else mounted at run time (\`llmops deploy --target docker\` does it). The trainer image holds Python, torch and llmops's trainer; a backend of type docker runs training in it.

--base sets FROM (default: node:20-bookworm-slim for the server, debian:bookworm-slim for the trainer; a CUDA base with torch for GPU training). Each image is recorded in the ledger. See docs/images.md.

--json result: {engine, images: [{target, tag, imageId, sizeBytes, base, engine, buildSeconds, modelRunId, modelSha256, labels}]}`;

  static examples = [
    '<%= config.bin %> image build',
    '<%= config.bin %> image build --target server --model r-20261126-abc123 --tag registry.example.com/llm/chat:1',
    '<%= config.bin %> image build --target trainer --base pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime',
  ];

  static flags = {
    target: Flags.string({summary: 'Which image to build.', options: ['server', 'trainer', 'all'], default: 'all'}),
    base: Flags.string({summary: 'Base image (FROM); default node:20-bookworm-slim (server), debian:bookworm-slim (trainer).'}),
    model: Flags.string({char: 'm', summary: 'Server: RUN_ID or exported model folder to bake into the image.'}),
    tag: Flags.string({char: 't', summary: 'Image tag (default llmops-server:VERSION, llmops-trainer:VERSION).'}),
    'no-cache': Flags.boolean({summary: 'Rebuild every layer instead of reusing cached ones.'}),
  };

  async run(): Promise<ImageBuildResult> {
    const loaded = await this.projectConfig();
    // Outside a project nothing is recorded (no ledger is created in a random folder).
    const ledger = loaded.file ? await this.ledger() : undefined;
    const {buildImages} = await import('../../lib/image/build.js');
    const f = this.flags;
    const r = await buildImages(
      {
        target: f.target as 'server' | 'trainer' | 'all',
        ...(f.base ? {base: f.base} : {}),
        ...(f.model ? {model: f.model} : {}),
        ...(f.tag ? {tag: f.tag} : {}),
        ...(f['no-cache'] ? {noCache: true} : {}),
        version: this.config.version,
        progress: (m) => this.progress(m),
      },
      ledger,
    );
    if (!this.jsonEnabled()) {
      const {renderTable} = await import('../../lib/ui/output.js');
      this.log(
        renderTable(r.images, [
          {header: 'TARGET', get: (i) => i.target},
          {header: 'TAG', get: (i) => i.tag},
          {header: 'SIZE', get: (i) => `${(i.sizeBytes / 1e6).toFixed(0)} MB`, align: 'right'},
          {header: 'BUILD', get: (i) => `${i.buildSeconds.toFixed(1)} s`, align: 'right'},
          {header: 'BASE', get: (i) => i.base},
          {header: 'MODEL', get: (i) => i.modelRunId ?? i.modelSha256?.slice(0, 12) ?? '-'},
        ]),
      );
    }
    return r;
  }
}
