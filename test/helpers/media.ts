/**
 * Real media for streaming tests, made and read by ffmpeg and ffprobe (Debian packages; .ci/run
 * installs them): an H.264/AAC MP4 with its index (moov) at the end, as ffmpeg writes it without
 * `+faststart`, and an MPEG-TS. Every run is bounded by a timeout and killed past it.
 */
import { execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** A run of ffmpeg or ffprobe at most; making a 10 s clip takes under a second on one core. */
const RUN_TIMEOUT_MS = 60_000;

function run(command: string, args: string[], timeoutMs = RUN_TIMEOUT_MS): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (!error) return resolve({ stdout, stderr });
      const why = error.killed ? `timed out after ${timeoutMs} ms and was killed` : `failed (${error.message.split('\n')[0]})`;
      reject(new Error(`${command} ${args.join(' ')} ${why}${stderr.trim() ? `: ${stderr.trim()}` : ''}`));
    });
  });
}

const SOURCES = (seconds: number) => [
  ...['-f', 'lavfi', '-i', `testsrc=duration=${seconds}:size=320x240:rate=25`],
  ...['-f', 'lavfi', '-i', `sine=frequency=440:duration=${seconds}`],
];

/** An H.264 + AAC MP4 of `seconds`, its moov box after mdat (no faststart). */
export async function makeMp4(dir: string, seconds = 10, name = 'clip.mp4'): Promise<string> {
  const out = join(dir, name);
  await run('ffmpeg', ['-v', 'error', '-y', ...SOURCES(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', '25', '-b:v', '600k', '-c:a', 'aac', '-shortest', '-f', 'mp4', out]);
  return out;
}

/** An MPEG-TS (H.264 + AAC) of `seconds` at about 280 kbit/s: 1 MiB at the default 30 s. */
export async function makeTs(dir: string, seconds = 30, name = 'clip.ts'): Promise<string> {
  const out = join(dir, name);
  await run('ffmpeg', ['-v', 'error', '-y', ...SOURCES(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-b:v', '200k', '-c:a', 'aac', '-b:a', '48k', '-shortest', '-f', 'mpegts', out]);
  return out;
}

/** Byte offsets of the top-level MP4 boxes of `path`, by type. */
export async function mp4Boxes(path: string): Promise<Map<string, number>> {
  const bytes = await readFile(path);
  const boxes = new Map<string, number>();
  for (let at = 0; at + 8 <= bytes.length; ) {
    let size = bytes.readUInt32BE(at);
    const type = bytes.toString('latin1', at + 4, at + 8);
    if (size === 1) size = Number(bytes.readBigUInt64BE(at + 8));
    boxes.set(type, at);
    if (size < 8) break;
    at += size;
  }
  return boxes;
}

export interface Probe {
  durationSec: number;
  streams: { codec_type: string; codec_name: string }[];
}

/**
 * ffmpeg arguments for a live source: a test pattern with a tone, H.264 (a keyframe every second)
 * and AAC in MPEG-TS on stdout, at real time (-re), for `seconds`.
 */
export function liveSourceArgs(seconds: number): string[] {
  return [
    ...['-v', 'error', '-nostdin', '-re'],
    ...['-f', 'lavfi', '-i', `testsrc=size=320x240:rate=25`, '-f', 'lavfi', '-i', 'sine=frequency=440'],
    ...['-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-pix_fmt', 'yuv420p', '-c:a', 'aac'],
    ...['-f', 'mpegts', '-'],
  ];
}

/** The presentation time (s) of the first packet ffprobe reads from `url`. */
export async function firstPts(url: string, timeoutMs = RUN_TIMEOUT_MS): Promise<number> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time', '-read_intervals', '%+#1', '-of', 'csv=p=0', url], timeoutMs);
  const pts = Number(stdout.trim().split('\n')[0]!.split(',')[0]);
  if (!Number.isFinite(pts)) throw new Error(`ffprobe ${url} printed no packet time: ${stdout.slice(0, 200)}`);
  return pts;
}

/** What ffprobe reads from `url`: duration and streams. */
export async function probe(url: string, timeoutMs = RUN_TIMEOUT_MS): Promise<Probe> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', url], timeoutMs);
  let json: { format?: { duration?: string }; streams?: { codec_type: string; codec_name: string }[] };
  try {
    json = JSON.parse(stdout) as typeof json;
  } catch {
    throw new Error(`ffprobe ${url} printed no JSON: ${stdout.slice(0, 200)}`);
  }
  const durationSec = Number(json.format?.duration);
  if (!Number.isFinite(durationSec) || !Array.isArray(json.streams)) throw new Error(`ffprobe ${url} found no duration or streams: ${stdout.slice(0, 200)}`);
  return { durationSec, streams: json.streams.map((s) => ({ codec_type: s.codec_type, codec_name: s.codec_name })) };
}

/**
 * Decodes every frame of `url` with ffmpeg (the first `seconds` of it, if given); `errors` is what
 * it printed at level error (empty when clean). `onFrames` hears the frame count as decoding goes (ffmpeg's -progress, every 0.2 s).
 * Past `timeoutMs` ffmpeg is killed and the promise rejects saying so.
 */
export function decodeAll(url: string, onFrames: (frames: number) => void = () => {}, timeoutMs = RUN_TIMEOUT_MS, seconds?: number): Promise<{ frames: number; errors: string }> {
  return new Promise((resolve, reject) => {
    const limit = seconds === undefined ? [] : ['-t', String(seconds)];
    const child = spawn('ffmpeg', ['-v', 'error', '-nostdin', '-stats_period', '0.2', '-progress', 'pipe:1', '-i', url, ...limit, '-f', 'null', '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let frames = 0;
    let errors = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      for (const m of text.matchAll(/^frame=(\d+)/gm)) {
        frames = Number(m[1]);
        onFrames(frames);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => (errors += text));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`ffmpeg could not start: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ frames, errors: errors.trim() });
      else if (timedOut) reject(new Error(`ffmpeg -i ${url} timed out after ${timeoutMs} ms (${frames} frames) and was killed${errors.trim() ? `: ${errors.trim()}` : ''}`));
      else reject(new Error(`ffmpeg -i ${url} exited with ${signal ?? code}: ${errors.trim()}`));
    });
  });
}
