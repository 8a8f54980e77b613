import type { AdvertisementData, ScanFilter } from "./types.ts";
import { canonicalUuid } from "./uuids.ts";

/** Web Bluetooth filter semantics: any filter matches; within a filter, every field set must match. */
export function matchesFilters(data: AdvertisementData, filters: readonly ScanFilter[] | undefined): boolean {
  if (!filters || filters.length === 0) return true;
  return filters.some((filter) => matchesFilter(data, filter));
}

function matchesFilter(data: AdvertisementData, filter: ScanFilter): boolean {
  if (filter.services) {
    const advertised = new Set(data.serviceUuids.map(canonicalUuid));
    if (!filter.services.every((uuid) => advertised.has(canonicalUuid(uuid)))) return false;
  }
  if (filter.namePrefix !== undefined && !(data.localName ?? "").startsWith(filter.namePrefix)) return false;
  if (filter.manufacturerData) {
    const { companyId, dataPrefix } = filter.manufacturerData;
    const md = data.manufacturerData;
    if (!md || md.companyId !== companyId) return false;
    if (dataPrefix && !startsWith(md.data, dataPrefix)) return false;
  }
  return true;
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (prefix.length > bytes.length) return false;
  return prefix.every((b, i) => bytes[i] === b);
}
