"""The marketplace in the browser: a creator uploads a dataset with a progress bar, sees it listed and minted; a
second wallet buys it from its own wallet and downloads the same bytes; the creator sees the sale; the buyer
fine-tunes on it from the page and watches the job finish, then tries the model it made."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.finetune import parrot
from tests.hub.conftest import Hub, shot

pytestmark = pytest.mark.slow

CONTENT = "".join(json.dumps(row) + "\n" for row in parrot.rows()[:8]).encode()


def test_upload_buy_download_sale_and_fine_tune(hub: Hub, tmp_path) -> None:  # type: ignore[no-untyped-def]
    creator_wallet, buyer_wallet = hub.wallet(3), hub.wallet(4)
    creator = hub.context(creator_wallet).new_page()
    hub.wallet_sign_in(creator)
    creator.goto("/creator")
    upload = tmp_path / "parrot.jsonl"
    upload.write_bytes(CONTENT)
    creator.get_by_label("Name", exact=True).fill("Parrot chats")
    creator.get_by_label("Slug").fill("parrot-chats")
    creator.get_by_label("Price (micro-USDC)").fill("1500000")
    creator.get_by_label("Category").select_option("nlp")
    creator.get_by_label("Description").fill("Eight chats where the assistant repeats the user.")
    creator.get_by_label("File (JSONL").set_input_files(str(upload))
    creator.get_by_role("button", name="Upload, encrypt and mint").click()
    # the bar is fed by the browser's upload progress events: full once the body is sent, while the server
    # encrypts, stores and mints (then the page moves to the dataset)
    creator.wait_for_function(
        "() => { const bar = document.querySelector('#upload-progress');"
        " return bar.max > 1000 && bar.value === bar.max; }"
    )
    creator.wait_for_url("**/datasets/parrot-chats")
    expect(creator.locator("#access")).to_have_text("full")
    expect(creator.locator(".facts")).to_contain_text("on chain 31337")
    shot(creator, "dataset-creator")

    buyer_context = hub.context(buyer_wallet)
    buyer = buyer_context.new_page()
    buyer.goto("/datasets?q=parrot")
    expect(buyer.locator("#dataset-rows")).to_contain_text("Parrot chats")
    expect(buyer.locator("#dataset-rows")).to_contain_text("1.5 USDC")
    shot(buyer, "datasets")
    hub.wallet_sign_in(buyer)
    buyer.goto("/datasets/parrot-chats")
    expect(buyer.locator("#access")).to_have_text("preview")
    buyer.get_by_role("button", name="Buy for 1.5 USDC with your wallet").click()
    expect(buyer.locator("#access")).to_have_text("download", timeout=30_000)
    assert len(buyer_wallet.sent) == 2  # approve, purchase
    with buyer.expect_download() as download:
        buyer.get_by_role("link", name="Download").click()
    assert download.value.path().read_bytes() == CONTENT
    ranged = buyer.request.get("/v1/datasets/parrot-chats/download", headers={"range": "bytes=10-19"})
    assert ranged.status == 206 and ranged.body() == CONTENT[10:20]
    buyer.goto("/purchases")
    expect(buyer.get_by_role("link", name="Parrot chats")).to_be_visible()
    shot(buyer, "purchases")

    creator.goto("/creator")
    expect(creator.locator("#sales tbody")).to_contain_text("1.5 USDC")
    expect(creator.locator("#total-received")).to_have_text("1.275 USDC")  # 85%
    shot(creator, "creator")

    hub.credit(buyer, 5_000_000)
    buyer.goto("/fine-tuning?dataset=parrot-chats")
    buyer.get_by_label("Name suffix").fill("parrot")
    buyer.get_by_role("button", name="Start training").click()
    buyer.wait_for_url("**/fine-tuning/ftjob-*")
    expect(buyer.locator("#job-status")).to_have_text("succeeded", timeout=240_000)
    buyer.wait_for_function("() => document.querySelector('#loss-chart').chart !== undefined")
    shot(buyer, "fine-tuning-job")
    buyer.locator(".try button").click()
    expect(buyer.locator(".try-output")).to_have_attribute("data-done", "1", timeout=60_000)
    assert buyer.locator(".try-output").inner_text().strip()
    buyer_context.close()

    # the creator approves Cluster as operator once (from the wallet), then edits the listing and retires it
    creator.goto("/creator")
    creator.get_by_role("button", name="Approve Cluster").click()
    expect(creator.locator("#operator-status")).to_contain_text("Approved", timeout=30_000)
    row = creator.locator("#ds-parrot-chats")
    row.get_by_label("Price (µUSDC)").fill("2000000")
    row.get_by_role("button", name="Save").click()
    expect(creator.locator("#ds-parrot-chats")).to_contain_text("saved")
    creator.goto("/datasets/parrot-chats")
    expect(creator.locator("#price")).to_have_text("2 USDC")
    creator.goto("/creator")
    creator.once("dialog", lambda dialog: dialog.accept())
    creator.locator("#ds-parrot-chats").get_by_role("button", name="Retire").click()
    expect(creator.locator("#ds-parrot-chats")).to_contain_text("not listed")
    creator.goto("/datasets")
    expect(creator.locator("#dataset-rows")).not_to_contain_text("Parrot chats")
