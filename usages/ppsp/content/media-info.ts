/**
 * What a player needs to know about a swarm's bytes beyond the bytes: a file name and a media type.
 * The swarm ID does not commit to them (they are labels, not content), so a seeder sets them (from
 * its file name, or `--type`) and a downloader takes them from the METADATA answer as hints,
 * validated here: a bad hint is dropped, never trusted into a header.
 */
import { basename, extname } from 'node:path';
import { invalidMessage } from '../../../overlay/index.js';

export interface MediaInfo {
  /** A bare file name (no directory), for Content-Disposition. */
  name?: string;
  /** A media type like `video/mp4`, for Content-Type. */
  type?: string;
}

/** The media type sent when none is known. */
export const DEFAULT_MEDIA_TYPE = 'application/octet-stream';
/** Longest file name kept, in UTF-8 bytes. */
export const MAX_MEDIA_NAME_BYTES = 255;
/** Longest media type kept, in characters. */
export const MAX_MEDIA_TYPE_CHARS = 127;

/** Types of the files people stream, by extension (lowercase, with the dot). */
const TYPE_BY_EXTENSION: Record<string, string> = {
  '.mp4': 'video/mp4',
  '.m4v': 'video/mp4',
  '.m4a': 'audio/mp4',
  '.mov': 'video/quicktime',
  '.webm': 'video/webm',
  '.mkv': 'video/x-matroska',
  '.ts': 'video/mp2t',
  '.m2ts': 'video/mp2t',
  '.ogv': 'video/ogg',
  '.ogg': 'audio/ogg',
  '.oga': 'audio/ogg',
  '.opus': 'audio/ogg',
  '.mp3': 'audio/mpeg',
  '.flac': 'audio/flac',
  '.wav': 'audio/wav',
  '.avi': 'video/x-msvideo',
  '.txt': 'text/plain; charset=utf-8',
  '.pdf': 'application/pdf',
  '.zip': 'application/zip',
  '.iso': 'application/x-iso9660-image',
};

// RFC 9110 §8.3.1: type "/" subtype, both tokens; one optional charset parameter.
const MEDIA_TYPE = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+(?:; ?charset=[a-z0-9_-]+)?$/i;

/** Whether `type` is a media type we put in a header as is. */
export function isMediaType(type: unknown): type is string {
  return typeof type === 'string' && type.length <= MAX_MEDIA_TYPE_CHARS && MEDIA_TYPE.test(type);
}

/** Whether `name` is a bare file name: no path separator, no control character, not too long. */
export function isMediaName(name: unknown): name is string {
  // eslint-disable-next-line no-control-regex
  return typeof name === 'string' && name.length > 0 && name !== '.' && name !== '..' && !/[/\\\u0000-\u001f\u007f]/.test(name) && Buffer.byteLength(name) <= MAX_MEDIA_NAME_BYTES;
}

/** The media type of a file named `path`, by its extension, or undefined. */
export function mediaTypeOfName(path: string): string | undefined {
  return TYPE_BY_EXTENSION[extname(path).toLowerCase()];
}

/** What a seeder of `path` announces: its base name, and `type` if given (checked) or the type its extension names. */
export function mediaInfoOfFile(path: string, type?: string): MediaInfo {
  if (type !== undefined && !isMediaType(type)) throw invalidMessage(`"${type}" is not a media type like video/mp4`, 'bad_media_type');
  const name = basename(path);
  return { name: isMediaName(name) ? name : undefined, type: type ?? mediaTypeOfName(name) };
}

/** Hints from a peer, keeping only the valid ones. */
export function mediaInfoFromHints(name: unknown, type: unknown): MediaInfo {
  return { name: isMediaName(name) ? name : undefined, type: isMediaType(type) ? type : undefined };
}

/** Content-Disposition for `name` (RFC 6266): inline, an ASCII fallback and the UTF-8 name (RFC 8187). */
export function contentDisposition(name: string | undefined): string {
  if (!name) return 'inline';
  const ascii = name.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  return `inline; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}
