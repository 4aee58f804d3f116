// Fiscus's page: asks for the API key once, keeps it for the browser tab, and shows one
// section at a time. Every call goes to the public /api/v1 with the key in a header.
import { api, ApiProblem, apiKey, KEY } from "/web/api.js";
import { setUpHousehold } from "/web/household.js";
import { setUpImpact } from "/web/impact.js";
import { setUpReform } from "/web/reform.js";
import { setUpRun } from "/web/run.js";

const SECTIONS = ["household", "reform", "run", "impact"];

function show(section) {
  const keySection = document.getElementById("key-section");
  const known = Boolean(apiKey());
  keySection.hidden = known;
  document.getElementById("forget-key").hidden = !known;
  for (const name of SECTIONS) {
    document.getElementById(name).hidden = !known || name !== section;
  }
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.section === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function current() {
  const wanted = location.hash.slice(1);
  return SECTIONS.includes(wanted) ? wanted : SECTIONS[0];
}

async function checkKey(event) {
  event.preventDefault();
  const input = document.getElementById("key");
  const error = document.getElementById("key-error");
  error.textContent = "";
  sessionStorage.setItem(KEY, input.value.trim());
  try {
    await api("/api/v1/policies?limit=1");
  } catch (problem) {
    sessionStorage.removeItem(KEY);
    error.textContent =
      problem instanceof ApiProblem && problem.status === 401
        ? "Fiscus does not know this key."
        : `The key could not be checked: ${problem.message}`;
    input.focus();
    return;
  }
  input.value = "";
  show(current());
  document.getElementById("main").focus();
  document.dispatchEvent(new Event("fiscus:key"));
}

function forgetKey() {
  sessionStorage.removeItem(KEY);
  show(current());
  document.getElementById("key").focus();
}

document.getElementById("key-form").addEventListener("submit", checkKey);
document.getElementById("forget-key").addEventListener("click", forgetKey);
window.addEventListener("hashchange", () => show(current()));
setUpHousehold();
setUpReform();
setUpRun();
setUpImpact();
show(current());
if (apiKey()) document.dispatchEvent(new Event("fiscus:key"));
